"""GatewayService: reads the API key from metadata and hands the request to the pipeline."""

from __future__ import annotations

import grpc

from sluicegate.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from sluicegate_orchestrator.pipeline import ChatPipeline

DECISION_TRAILER = "x-sluicegate-decision-bin"


def api_key_from(context: grpc.aio.ServicerContext) -> str:
    """The key from `authorization: Bearer <key>` or `x-api-key`."""
    for key, value in context.invocation_metadata() or ():
        if key == "authorization" and isinstance(value, str) and value.lower().startswith("bearer "):
            return value[7:].strip()
        if key == "x-api-key" and isinstance(value, str):
            return value.strip()
    return ""


class GatewayServicer(gateway_pb2_grpc.GatewayServiceServicer):
    def __init__(self, pipeline: ChatPipeline) -> None:
        self._pipeline = pipeline

    async def Chat(
        self, request: gateway_pb2.ChatRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.ChatResponse:
        return await self._pipeline.chat(request, api_key_from(context))

    async def ChatStream(self, request: gateway_pb2.ChatStreamRequest, context: grpc.aio.ServicerContext):
        async for event in self._pipeline.chat_stream(request, api_key_from(context)):
            if event.HasField("summary"):
                # Streams also carry the decision record in trailing metadata, for clients that only read trailers.
                context.set_trailing_metadata(((DECISION_TRAILER, event.summary.decision.SerializeToString()),))
            yield event
