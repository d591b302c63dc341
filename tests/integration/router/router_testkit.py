"""Helpers for the router's integration tests: catalogs served by the mock upstream, calls, error details."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import grpc
import pytest
from google.rpc import error_details_pb2

from sluicegate.common.v1 import chat_pb2
from sluicegate.convert import text_message
from sluicegate.router.v1 import router_pb2, router_pb2_grpc
from sluicegate.runtime.errors import ServiceError

PRICE = {"input_per_mtok_usd": 2.0, "output_per_mtok_usd": 8.0}
TIERS = ("simple", "medium", "complex", "creative")


class MockUpstream:
    """The mock upstream served on a free port, and its per-model counters."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.api_base = f"{base_url}/v1"

    def deployment(self, name: str, directive: str, **extra: Any) -> dict[str, Any]:
        """A catalog deployment served by the mock; the directive (`mock-status-503`...) sets its behaviour."""
        return {"name": name, "litellm_model": f"openai/{directive}", "api_base": self.api_base, "price": PRICE} | extra

    async def stats(self, model: str) -> dict[str, int]:
        async with aiohttp.ClientSession() as session, session.get(f"{self.base_url}/_mock/stats") as response:
            return (await response.json())["models"].get(model, {})

    async def behave(self, model: str, **knobs: Any) -> None:
        """Replaces a model's behaviour (`chunk_delay_ms`, `answer`, ...) from the next request on."""
        async with (
            aiohttp.ClientSession() as session,
            session.put(f"{self.base_url}/_mock/behaviours/{model}", json=knobs) as response,
        ):
            response.raise_for_status()

    async def wait_for(self, model: str, key: str, value: int) -> dict[str, int]:
        """Polls the counters until `key` reaches `value` (aborted requests are counted a moment later)."""
        counters: dict[str, int] = {}
        for _ in range(150):
            counters = await self.stats(model)
            if counters.get(key, 0) >= value:
                return counters
            await asyncio.sleep(0.02)
        pytest.fail(f"the mock's {key} count for {model} never reached {value}; last seen {counters}")


def catalog(models: dict[str, dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """A catalog of the given models (tier medium unless set); every tier maps to the first model unless
    `tiers` is given."""
    first = next(iter(models))
    return {
        "version": 1,
        "tiers": {tier: first for tier in TIERS},
        "models": {name: {"tier": "medium"} | model for name, model in models.items()},
    } | extra


def model_call(model: str, prompt: str = "hello there", **fields: Any) -> router_pb2.ModelCall:
    return router_pb2.ModelCall(model=model, messages=[text_message(chat_pb2.ROLE_USER, prompt)], **fields)


async def read_all(call) -> tuple[list, object]:
    """A stream's deltas and its one summary."""
    deltas, summaries = [], []
    async for event in call:
        (deltas if event.HasField("delta") else summaries).append(
            event.delta if event.HasField("delta") else event.summary
        )
    assert len(summaries) == 1, "a successful stream ends with exactly one summary"
    return deltas, summaries[0]


async def read_until_interrupted(call) -> tuple[str, ServiceError]:
    """The text a stream sent before it ended with UNAVAILABLE / STREAM_INTERRUPTED, and that error; a summary
    (a clean end) fails the test."""
    texts: list[str] = []
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for event in call:
            assert event.HasField("delta"), "no summary may follow an interrupted stream"
            texts.append(event.delta.text)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    error = rpc_error(caught)
    assert error.reason == "STREAM_INTERRUPTED"
    return "".join(texts), error


class RouterClient:
    """A stub for a router served on a free port, with shorthand calls."""

    def __init__(
        self, stub: router_pb2_grpc.RouterServiceStub, check_readiness: Callable[[], Awaitable[bool]] | None = None
    ) -> None:
        self.stub = stub
        self._check_readiness = check_readiness

    async def wait_until_ready(self, timeout_seconds: float = 10.0) -> None:
        """Polls the router's readiness checks until they pass. Until then litellm's token counter may still be
        loading in its worker thread, and calls are counted with the heuristic instead."""
        assert self._check_readiness is not None, "this client was made without the router's readiness checks"
        for _ in range(int(timeout_seconds / 0.025)):
            if await self._check_readiness():
                return
            await asyncio.sleep(0.025)
        pytest.fail(f"the router was not ready within {timeout_seconds} s")

    async def route(self, model: str, prompt: str = "hello there", **fields: Any) -> router_pb2.RouteDecision:
        response = await self.stub.Route(router_pb2.RouteRequest(call=model_call(model, prompt, **fields)), timeout=5)
        return response.decision

    async def complete(
        self, model: str, prompt: str = "hello there", timeout: float = 10.0, **fields: Any
    ) -> router_pb2.CompleteResponse:
        request = router_pb2.CompleteRequest(call=model_call(model, prompt, **fields))
        return await self.stub.Complete(request, timeout=timeout)

    def stream(self, model: str, prompt: str = "hello there", timeout: float = 10.0, **fields: Any):
        request = router_pb2.CompleteStreamRequest(call=model_call(model, prompt, **fields))
        return self.stub.CompleteStream(request, timeout=timeout)


def rpc_error(caught: pytest.ExceptionInfo[grpc.aio.AioRpcError]) -> ServiceError:
    """The error a call ended with, its details unpacked."""
    return ServiceError.from_rpc_error(caught.value)


def error_metadata(error: ServiceError) -> dict[str, str]:
    info = next(d for d in error.details if isinstance(d, error_details_pb2.ErrorInfo))
    return dict(info.metadata)


def retry_delay_seconds(error: ServiceError) -> float:
    info = next(d for d in error.details if isinstance(d, error_details_pb2.RetryInfo))
    return info.retry_delay.seconds + info.retry_delay.nanos / 1e9
