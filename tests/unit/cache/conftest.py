"""Fixtures for the cache's domain tests: a CacheService over the test Redis with a clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis
from cache_builders import FakeClock, make_service

from sluicegate_cache.service import CacheService


@dataclass
class Cache:
    service: CacheService
    clock: FakeClock
    redis: aioredis.Redis


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def cache(redis: aioredis.Redis) -> Cache:
    clock = FakeClock()
    return Cache(make_service(redis, clock), clock, redis)
