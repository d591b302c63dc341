"""Helpers for the chain walk's unit tests: a scripted provider (plain calls and streams) and one-model plans."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator

from sluicegate.catalog import Deployment, parse_catalog
from sluicegate.common.v1 import chat_pb2, decision_pb2
from sluicegate.convert import text_message
from sluicegate.router.v1 import router_pb2
from sluicegate_router.breaker import BreakerPolicy, CircuitBreakers
from sluicegate_router.chain import ChainCaller, RetryPolicy
from sluicegate_router.classifier import KeywordClassifier
from sluicegate_router.failures import Failure
from sluicegate_router.health import DeploymentHealth
from sluicegate_router.planner import RoutePlan, RoutePlanner
from sluicegate_router.policies import Ranker
from sluicegate_router.provider import ProviderAnswer, ProviderChunk, ProviderRequest

HANG = "hang"
REQUEST = ProviderRequest(messages=[{"role": "user", "content": "hi"}], params={})
SERVER_ERROR = Failure(decision_pb2.ATTEMPT_OUTCOME_SERVER_ERROR, 500)
CUT = Failure(decision_pb2.ATTEMPT_OUTCOME_CONNECTION_ERROR, message="IncompleteStream")


class ScriptedError(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


async def _play(step):
    """Plays one step: (seconds, step) after a pause; HANG never ends; a Failure or another exception is raised;
    any other value is returned."""
    if isinstance(step, tuple):
        seconds, step = step
        await asyncio.sleep(seconds)
    if step == HANG:
        await asyncio.sleep(60)
    if isinstance(step, Failure):
        raise ScriptedError(step)
    if isinstance(step, Exception):
        raise step
    return step


class ScriptedProvider:
    """Plays each deployment's script, one step per call. A plain call's step is its answer (a string). A stream's
    step is a list of chunk steps (each chunk's text; a Failure cuts the stream there; it ends with a finish
    chunk), or a Failure raised as it opens; either may be delayed as (seconds, step)."""

    def __init__(self, scripts: dict[str, list]) -> None:
        self._scripts = scripts
        self.calls: list[tuple[str, float]] = []
        self.requests: list[tuple[str, ProviderRequest]] = []
        self.closed: list[str] = []

    async def complete(self, deployment: Deployment, request: ProviderRequest) -> ProviderAnswer:
        self.calls.append((deployment.name, time.monotonic()))
        text = await _play(self._scripts[deployment.name].pop(0))
        return ProviderAnswer(text=text, tool_calls=[], finish_reason="stop", usage=None)

    async def stream(self, deployment: Deployment, request: ProviderRequest) -> AsyncIterator[ProviderChunk]:
        name = deployment.name
        self.calls.append((name, time.monotonic()))
        self.requests.append((name, request))
        steps = await _play(self._scripts[name].pop(0))

        async def chunks() -> AsyncIterator[ProviderChunk]:
            try:
                for step in steps:
                    yield ProviderChunk(text=await _play(step))
                yield ProviderChunk(finish_reason="stop")
            finally:
                self.closed.append(name)

        return chunks()

    def classify(self, error: Exception) -> Failure | None:
        return error.failure if isinstance(error, ScriptedError) else None


def plan_for(*names: str, **call_fields) -> RoutePlan:
    """A plan whose chain is one single-deployment model per name, in order."""
    price = {"input_per_mtok_usd": 1.0, "output_per_mtok_usd": 2.0}
    models = {
        name: {
            "tier": "medium",
            "deployments": [{"name": name, "litellm_model": "openai/x", "price": price}],
            "fallbacks": list(names[1:]) if index == 0 else [],
        }
        for index, name in enumerate(names)
    }
    catalog = parse_catalog(
        {"tiers": dict.fromkeys(("simple", "medium", "complex", "creative"), names[0]), "models": models}
    )
    call = router_pb2.ModelCall(model=names[0], messages=[text_message(chat_pb2.ROLE_USER, "hi")], **call_fields)
    return RoutePlanner(
        catalog, KeywordClassifier(), random.Random(1), Ranker(DeploymentHealth(0.5), random.Random(1))
    ).plan(call)


def caller(
    provider: ScriptedProvider,
    health: DeploymentHealth | None = None,
    rng=None,
    breakers: CircuitBreakers | None = None,
    **policy,
) -> ChainCaller:
    options = {
        "attempts_per_deployment": 2,
        "backoff_base_seconds": 0.0,
        "backoff_cap_seconds": 0.0,
        "max_retry_after_seconds": 1.0,
        "default_retry_after_seconds": 1.0,
        "min_attempt_seconds": 0.05,
    } | policy
    return ChainCaller(
        provider,
        health or DeploymentHealth(0.5),
        breakers or CircuitBreakers(BreakerPolicy()),
        RetryPolicy(**options),
        rng or random.Random(1),
    )


def in_seconds(seconds: float) -> float:
    return time.monotonic() + seconds
