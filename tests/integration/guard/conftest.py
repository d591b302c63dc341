"""Guard integration fixtures: one warmed process pool with the spaCy model, shared by every test's server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager

import pytest

from sluicegate.guard.v1 import guard_pb2_grpc
from sluicegate.runtime.channels import create_channel
from sluicegate.runtime.testing import serving
from sluicegate_guard.app import SERVICE_NAME, make_build
from sluicegate_guard.engine import EngineConfig
from sluicegate_guard.policy import DEFAULT_ALLOW_LIST
from sluicegate_guard.pool import PoolScanner
from sluicegate_guard.settings import GuardSettings


@pytest.fixture(scope="session")
def ner_scanner() -> Iterator[PoolScanner]:
    """Loading spaCy in a worker takes seconds, so the session pays for it once."""
    scanner = PoolScanner.from_config(EngineConfig(ner=True, allow_list=DEFAULT_ALLOW_LIST), workers=1)
    asyncio.run(scanner.warm_up())
    yield scanner
    asyncio.run(scanner.close())


@pytest.fixture
def guard_service(ner_scanner: PoolScanner, redis_url: str) -> Callable:
    """Serves the guard on a free port around the shared scanner; yields a stub and the running server."""

    @asynccontextmanager
    async def serve(**overrides) -> AsyncIterator[tuple[guard_pb2_grpc.GuardServiceStub, object]]:
        settings = GuardSettings(
            port=0, redis_url=redis_url, ner=True, log_requests=False, readiness_interval_seconds=0.2, **overrides
        )
        async with serving("guard", settings, make_build(scanner=ner_scanner)) as running:
            channel = create_channel(running.address, [SERVICE_NAME], default_timeout_seconds=20)
            try:
                yield guard_pb2_grpc.GuardServiceStub(channel), running
            finally:
                await channel.close()

    return serve
