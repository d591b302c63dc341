"""The RouterService servicer: converts requests and results between protos and the Router."""

from __future__ import annotations

from contextlib import aclosing

from sluicegate.metering.v1 import metering_pb2
from sluicegate.router.v1 import router_pb2, router_pb2_grpc
from sluicegate_router.router import Router

SERVICE_NAME = "sluicegate.router.v1.RouterService"


class RouterServicer(router_pb2_grpc.RouterServiceServicer):
    def __init__(self, router: Router) -> None:
        self._router = router

    async def Route(self, request: router_pb2.RouteRequest, context) -> router_pb2.RouteResponse:
        routed = await self._router.route(request.call, _authorize_of(request))
        plan = routed.plan
        return router_pb2.RouteResponse(
            prompt_tokens=routed.prompt_tokens,
            reservation=routed.reservation,
            decision=plan.decision,
            ranking=[
                router_pb2.RankedCandidate(
                    model=ranked.candidate.model,
                    deployment=ranked.candidate.deployment.name,
                    score=ranked.score,
                    reason=ranked.reason,
                )
                for ranked in plan.ranking
            ],
        )

    async def Complete(self, request: router_pb2.CompleteRequest, context) -> router_pb2.CompleteResponse:
        return await self._router.complete(request.call, _authorize_of(request))

    async def CompleteStream(self, request: router_pb2.CompleteStreamRequest, context):
        events = self._router.stream(request.call, request.continue_on_interruption, _authorize_of(request))
        async with aclosing(events):
            async for event in events:
                if isinstance(event, router_pb2.StreamDelta):
                    yield router_pb2.CompleteStreamResponse(delta=event)
                elif isinstance(event, router_pb2.StreamSummary):
                    yield router_pb2.CompleteStreamResponse(summary=event)
                else:
                    yield router_pb2.CompleteStreamResponse(reservation=event)

    async def ListDeployments(
        self, request: router_pb2.ListDeploymentsRequest, context
    ) -> router_pb2.ListDeploymentsResponse:
        return router_pb2.ListDeploymentsResponse(deployments=self._router.deployments(request.model))


def _authorize_of(
    request: router_pb2.RouteRequest | router_pb2.CompleteRequest | router_pb2.CompleteStreamRequest,
) -> metering_pb2.AuthorizeRequest | None:
    return request.authorize if request.HasField("authorize") else None
