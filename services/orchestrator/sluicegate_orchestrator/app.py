"""Builds the orchestrator: downstream channels, the pipeline, the trace recorder and the idempotency store."""

from __future__ import annotations

from sluicegate.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from sluicegate.runtime.redis import create_redis, redis_readiness
from sluicegate.runtime.server import ServiceApp
from sluicegate_orchestrator.downstream import Downstreams
from sluicegate_orchestrator.idempotency import IdempotencyStore
from sluicegate_orchestrator.pipeline import ChatPipeline
from sluicegate_orchestrator.recorder import TraceRecorder
from sluicegate_orchestrator.servicer import GatewayServicer
from sluicegate_orchestrator.settings import OrchestratorSettings
from sluicegate_orchestrator.validation import chat_request_validator

SERVICE_NAME = "sluicegate.gateway.v1.GatewayService"


async def build(app: ServiceApp) -> None:
    settings = app.settings
    assert isinstance(settings, OrchestratorSettings)
    downstreams = Downstreams.connect(settings)
    recorder = TraceRecorder(
        downstreams.observer,
        settings.observer_queue_size,
        settings.observer_batch_size,
        settings.observer_flush_seconds,
    )
    redis = create_redis(settings.redis_url)
    pipeline = ChatPipeline(
        downstreams,
        recorder,
        IdempotencyStore(redis, settings.idempotency_ttl_seconds, settings.idempotency_pending_seconds),
        settings,
    )

    validate = chat_request_validator(settings)
    app.add_validator(gateway_pb2.ChatRequest, validate)
    app.add_validator(gateway_pb2.ChatStreamRequest, validate)
    app.add_servicer(gateway_pb2_grpc.add_GatewayServiceServicer_to_server, GatewayServicer(pipeline), SERVICE_NAME)
    app.add_readiness_check("redis", redis_readiness(redis))
    app.spawn(recorder.run())

    async def close() -> None:
        await pipeline.drain()
        await downstreams.close()
        await redis.aclose()

    app.on_shutdown(close)
