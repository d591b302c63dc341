"""Fixtures for the cache's domain tests: a CacheService over the test Redis with a clock the test moves."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis
from cache_builders import POLICY, FakeClock, make_service, semantic_layer

from sluicegate.embedding import SentenceEmbedder
from sluicegate.runtime.redis import create_redis
from sluicegate_cache.counters import HitCounters
from sluicegate_cache.exact import ExactCache
from sluicegate_cache.service import CacheService


@dataclass
class Cache:
    service: CacheService
    clock: FakeClock
    redis: aioredis.Redis


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = create_redis(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def cache(redis: aioredis.Redis) -> Cache:
    clock = FakeClock()
    return Cache(make_service(redis, clock), clock, redis)


@pytest.fixture(scope="session")
def embedder() -> SentenceEmbedder:
    """The shared MiniLM model, loaded once for the session."""
    return SentenceEmbedder()


@pytest.fixture
async def semantic(redis: aioredis.Redis, embedder: SentenceEmbedder) -> AsyncIterator[Cache]:
    """A CacheService with exact and semantic layers; tenant "strict" has a floor of 0.97."""
    clock = FakeClock()
    entries = ExactCache(redis, 50)
    layer, replica = semantic_layer(redis, clock, embedder, entries, {"strict": 0.97})
    following = asyncio.ensure_future(replica.run())
    yield Cache(CacheService(entries, HitCounters(redis), POLICY, clock=clock, semantic=layer), clock, redis)
    following.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await following
