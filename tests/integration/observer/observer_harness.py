"""The observer served on port 0 for integration tests: its stubs, HTTP port, a movable clock and a trace builder."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiohttp
from google.protobuf.timestamp_pb2 import Timestamp
from prometheus_client.parser import text_string_to_metric_families

from sluicegate.common.v1 import chat_pb2, decision_pb2
from sluicegate.observer.v1 import observer_pb2, observer_pb2_grpc
from sluicegate.runtime.channels import create_channel
from sluicegate.runtime.testing import serving
from sluicegate_observer.app import INGEST_SERVICE, QUERY_SERVICE, make_build
from sluicegate_observer.settings import ObserverSettings

ADMIN = [("x-admin-token", "s3cret")]
START = 1_800_000_000.0


class Observer:
    """The running service, its stubs, its HTTP port and the clock the test moves (`clock[0]`, epoch seconds)."""

    def __init__(self, running, channel, parts, clock: list[float]) -> None:
        self.running = running
        self.channel = channel
        self.parts = parts
        self.ingest = observer_pb2_grpc.ObserverServiceStub(channel)
        self.query = observer_pb2_grpc.ObserverQueryServiceStub(channel)
        self.http_port = parts.http.port
        self.metrics_url = f"http://127.0.0.1:{parts.http.port}"
        self.clock = clock

    async def http_get(self, path: str) -> tuple[int, str]:
        async with aiohttp.ClientSession() as session, session.get(self.metrics_url + path) as response:
            return response.status, await response.text()

    async def samples(self) -> dict[tuple[str, frozenset], float]:
        status, text = await self.http_get("/metrics")
        assert status == 200
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    async def record(self, traces: list[observer_pb2.RequestTrace]) -> int:
        response = await self.ingest.RecordTraces(observer_pb2.RecordTracesRequest(traces=traces))
        return response.accepted


@asynccontextmanager
async def observer_serving(clock: list[float] | None = None, **overrides) -> AsyncIterator[Observer]:
    """Serves an observer on free ports; with no `clock` it runs on the real time."""
    fields = {
        "port": 0,
        "metrics_port": 0,
        "admin_token": "s3cret",
        "alert_interval_seconds": 0.02,
        "readiness_interval_seconds": 0.05,
        "log_requests": False,
        **overrides,
    }
    settings = ObserverSettings(**fields)
    build = make_build(settings) if clock is None else make_build(settings, clock=lambda: clock[0])
    async with serving("observer", settings, build) as running:
        channel = create_channel(running.address, [INGEST_SERVICE, QUERY_SERVICE], default_timeout_seconds=5)
        yield Observer(running, channel, build.parts, clock if clock is not None else [])
        await channel.close()


def timestamp(epoch_seconds: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(int(epoch_seconds * 1e9))
    return stamp


def trace(request_id: str, **overrides) -> observer_pb2.RequestTrace:
    """A successful unary chat to gpt-4o-mini for tenant acme at START unless overridden."""
    decision = overrides.pop("decision", decision_pb2.DecisionRecord(request_id=request_id))
    fields = {
        "request_id": request_id,
        "timestamp": timestamp(START),
        "tenant_id": "acme",
        "model": "gpt-4o-mini",
        "deployment": "openai-gpt-4o-mini",
        "usage": chat_pb2.Usage(prompt_tokens=100, completion_tokens=20, cached_prompt_tokens=10),
        "duration_ms": 250.0,
        "cost_micros_usd": 45,
        "status_code": "OK",
        "request_type": observer_pb2.REQUEST_TYPE_CHAT,
        **overrides,
    }
    return observer_pb2.RequestTrace(decision=decision, **fields)


async def eventually(predicate: Callable[[], Awaitable[bool]], timeout_seconds: float = 3.0) -> None:
    """Waits until `predicate()` holds (the alert loop runs every 20 ms here), failing after the timeout."""
    deadline = asyncio.get_running_loop().time() + timeout_seconds
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "the expected state was never reached"
        await asyncio.sleep(0.02)
