"""Fixtures shared by every tier: a real Redis started for the session, flushed between tests."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from sluicegate.devstack.processes import RedisServer  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One private Redis (append-only persistence on) for the whole test session."""
    root = tmp_path_factory.mktemp("redis")
    server = RedisServer(data_dir=root / "data", log_dir=root)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def redis_url(redis_server: RedisServer) -> AsyncIterator[str]:
    """The session Redis, emptied before the test so tests never see each other's keys."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_server.url)
    await client.flushall()
    await client.aclose()
    yield redis_server.url
