"""The RouterService servicer: converts requests and results between protos and the Router."""

from __future__ import annotations

from contextlib import aclosing

from sluicegate.router.v1 import router_pb2, router_pb2_grpc
from sluicegate_router.router import Router

SERVICE_NAME = "sluicegate.router.v1.RouterService"


class RouterServicer(router_pb2_grpc.RouterServiceServicer):
    def __init__(self, router: Router) -> None:
        self._router = router

    async def Route(self, request: router_pb2.RouteRequest, context) -> router_pb2.RouteResponse:
        routed = await self._router.route(request.call)
        plan = routed.plan
        return router_pb2.RouteResponse(
            prompt_tokens=routed.prompt_tokens,
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
        return await self._router.complete(request.call)

    async def CompleteStream(self, request: router_pb2.CompleteStreamRequest, context):
        async with aclosing(self._router.stream(request.call, request.continue_on_interruption)) as events:
            async for event in events:
                if isinstance(event, router_pb2.StreamDelta):
                    yield router_pb2.CompleteStreamResponse(delta=event)
                else:
                    yield router_pb2.CompleteStreamResponse(summary=event)

    async def ListDeployments(
        self, request: router_pb2.ListDeploymentsRequest, context
    ) -> router_pb2.ListDeploymentsResponse:
        return router_pb2.ListDeploymentsResponse(deployments=self._router.deployments(request.model))
