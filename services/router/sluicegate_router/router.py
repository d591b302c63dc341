"""The router's operations: route (dry run), complete, stream, and the deployments' health."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass

import grpc

from sluicegate.catalog import Catalog
from sluicegate.common.v1 import errors_pb2
from sluicegate.convert import last_user_text, usage_charges
from sluicegate.metering.v1 import metering_pb2
from sluicegate.router.v1 import router_pb2
from sluicegate.runtime.context import remaining_seconds
from sluicegate.runtime.errors import denied
from sluicegate_router.breaker import BreakerState, CircuitBreakers
from sluicegate_router.budget import BudgetGate
from sluicegate_router.chain import ChainCaller
from sluicegate_router.complexity_model import ComplexityClassifier
from sluicegate_router.health import DeploymentHealth
from sluicegate_router.openai_format import provider_request
from sluicegate_router.planner import AUTO_MODELS, COMPLEXITY_OF_TIER, RoutePlan, RoutePlanner
from sluicegate_router.provider import ProviderRequest
from sluicegate_router.token_count import PromptTokenCounter

_BREAKER_STATES = {
    BreakerState.CLOSED: router_pb2.BREAKER_STATE_CLOSED,
    BreakerState.OPEN: router_pb2.BREAKER_STATE_OPEN,
    BreakerState.HALF_OPEN: router_pb2.BREAKER_STATE_HALF_OPEN,
}


@dataclass(frozen=True, slots=True)
class Routed:
    """A dry run's answer: the plan, the prompt's tokens counted for the chosen deployment's model, and the
    reservation when the caller asked for one."""

    plan: RoutePlan
    prompt_tokens: int
    reservation: metering_pb2.AuthorizeResponse | None = None


class Router:
    """Plans each call with the planner and carries it out with the chain caller, within the caller's deadline."""

    def __init__(
        self,
        catalog: Catalog,
        planner: RoutePlanner,
        classifier: ComplexityClassifier,
        caller: ChainCaller,
        health: DeploymentHealth,
        breakers: CircuitBreakers,
        max_request_seconds: float,
        token_counter: PromptTokenCounter,
        budget: BudgetGate | None = None,
    ) -> None:
        self._catalog = catalog
        self._planner = planner
        self._classifier = classifier
        self._caller = caller
        self._health = health
        self._breakers = breakers
        self._max_request_seconds = max_request_seconds
        self._token_counter = token_counter
        self._budget = budget or BudgetGate(None, 0.0)

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    def replace_catalog(self, catalog: Catalog) -> None:
        """Swaps the catalog between two calls (the event loop runs one at a time); calls in flight finish on
        the deployments they planned with. Health and breaker state carry over by deployment name."""
        self._catalog = catalog
        self._planner.replace_catalog(catalog)

    async def route(self, call: router_pb2.ModelCall, authorize: metering_pb2.AuthorizeRequest | None = None) -> Routed:
        """A dry run; with `authorize`, the plan's budget is reserved too (the caller settles or releases it)."""
        plan = await self._plan(call)
        prompt_tokens = await self._count_prompt(plan, provider_request(call))
        if authorize is None:
            return Routed(plan, prompt_tokens)
        plan, reservation = await self._reserve(call, plan, prompt_tokens, authorize)
        return Routed(plan, prompt_tokens, reservation)

    async def complete(
        self, call: router_pb2.ModelCall, authorize: metering_pb2.AuthorizeRequest | None = None
    ) -> router_pb2.CompleteResponse:
        """Carries the call out; with `authorize`, reserves its budget with metering first (see BudgetGate) and
        settles it with what the attempts used as it answers (`settled`)."""
        deadline = self._deadline()
        plan = await self._plan(call)
        request = provider_request(call)
        if authorize is None:
            return await self._caller.complete(plan, request, plan.prompt_tokens, deadline)
        plan, reservation = await self._reserve(call, plan, await self._count_prompt(plan, request), authorize)
        try:
            response = await self._caller.complete(plan, request, plan.prompt_tokens, deadline)
        except BaseException:
            self._budget.release(reservation.reservation_id)
            raise
        response.reservation.CopyFrom(reservation)
        self._budget.settle(reservation.reservation_id, usage_charges(response.attempts))
        response.settled = True
        return response

    async def stream(
        self,
        call: router_pb2.ModelCall,
        continue_on_interruption: bool = False,
        authorize: metering_pb2.AuthorizeRequest | None = None,
    ) -> AsyncIterator[router_pb2.StreamDelta | router_pb2.StreamSummary | metering_pb2.AuthorizeResponse]:
        """The answer's events; with `authorize`, the reservation comes first. The caller reports usage on it and
        settles or releases it; a stream cancelled before its first delta went out gives it back here as well, as
        the caller may never have read it (a second release of it changes nothing)."""
        deadline = self._deadline()
        plan = await self._plan(call)
        request = provider_request(call)
        reservation = None
        if authorize is not None:
            plan, reservation = await self._reserve(call, plan, await self._count_prompt(plan, request), authorize)
        answered = reservation is None
        try:
            if reservation is not None:
                yield reservation
            events = self._caller.stream(plan, request, plan.prompt_tokens, deadline, continue_on_interruption)
            async with aclosing(events):
                async for event in events:
                    # Set before the delta leaves: from then on the caller may settle the reservation for it.
                    answered = answered or isinstance(event, router_pb2.StreamDelta)
                    yield event
        except (asyncio.CancelledError, GeneratorExit):
            if not answered:
                self._budget.release(reservation.reservation_id)
            raise

    async def _count_prompt(self, plan: RoutePlan, request: ProviderRequest) -> int:
        """The prompt counted for the deployment the plan calls first (metering reserves on this count)."""
        if not plan.chain:
            return plan.prompt_tokens
        return await self._token_counter.count(plan.chain[0].deployment.litellm_model, request, plan.prompt_tokens)

    async def _reserve(
        self,
        call: router_pb2.ModelCall,
        plan: RoutePlan,
        prompt_tokens: int,
        authorize: metering_pb2.AuthorizeRequest,
    ) -> tuple[RoutePlan, metering_pb2.AuthorizeResponse]:
        """Reserves the planned model's worst case on the prompt's count. When metering downgrades the model to
        fit the budget, the call is planned again for the cheaper model, keeping why the first one was chosen."""
        model = plan.decision.model
        reservation = await self._budget.reserve(authorize, model, prompt_tokens)
        if not reservation.downgraded_from:
            return plan, reservation
        try:
            downgraded_call = router_pb2.ModelCall()
            downgraded_call.CopyFrom(call)
            downgraded_call.model = reservation.model
            downgraded = self._planner.plan(downgraded_call)
        except BaseException:
            self._budget.release(reservation.reservation_id)
            raise
        decision = downgraded.decision
        decision.complexity, decision.complexity_source = plan.decision.complexity, plan.decision.complexity_source
        decision.downgraded_from = model
        decision.reason = (
            f"{plan.decision.reason.rstrip('.')}; the budget cannot cover {model}, so metering downgraded the call "
            f"to {reservation.model}, which {decision.deployment} serves."
        )
        return downgraded, reservation

    async def _plan(self, call: router_pb2.ModelCall) -> RoutePlan:
        classified = None
        if call.model in AUTO_MODELS and not call.complexity_hint:
            # The learned classifier embeds the prompt (CPU work, in a worker thread); only auto-routing needs it.
            classified = await self._classifier.classify(last_user_text(call.messages), call.question_embedding)
        return self._planner.plan(call, classified)

    def deployments(self, model: str) -> list[router_pb2.DeploymentStatus]:
        if model and self._catalog.model(model) is None:
            raise denied(
                grpc.StatusCode.NOT_FOUND,
                errors_pb2.ERROR_REASON_MODEL_UNKNOWN,
                f"the catalog has no model {model!r}",
                {"model": model},
            )
        statuses = []
        for model_name, logical in self._catalog.models.items():
            if model and model_name != model:
                continue
            for deployment in logical.deployments:
                stats = self._health.stats(deployment.name)
                statuses.append(
                    router_pb2.DeploymentStatus(
                        name=deployment.name,
                        model=model_name,
                        provider=deployment.provider,
                        region=deployment.region,
                        tier=COMPLEXITY_OF_TIER[logical.tier],
                        breaker=_BREAKER_STATES[self._breakers.state(deployment.name)],
                        ewma_latency_ms=stats.ewma_latency_ms,
                        ewma_ttft_ms=stats.ewma_ttft_ms,
                        recent_error_rate=stats.recent_error_rate,
                        input_micros_usd_per_mtok=deployment.price.input_micros_per_mtok,
                        output_micros_usd_per_mtok=deployment.price.output_micros_per_mtok,
                        context_window_tokens=deployment.capabilities.context_window,
                    )
                )
        return statuses

    def _deadline(self) -> float:
        """The absolute time (monotonic) the call must be done by: the client's deadline, or the router's bound."""
        return time.monotonic() + remaining_seconds(self._max_request_seconds, floor=0.0)
