"""A Redis client sized on purpose, and a readiness check for it."""

from __future__ import annotations

import redis.asyncio as aioredis


def create_redis(url: str, max_connections: int = 64, timeout_seconds: float = 2.0) -> aioredis.Redis:
    """A client over a BlockingConnectionPool: callers wait for a free connection instead of failing at 100."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout_seconds,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        decode_responses=False,
    )
    return aioredis.Redis(connection_pool=pool)


def redis_readiness(client: aioredis.Redis):
    """A readiness check: the service is SERVING only while Redis answers PING."""

    async def check() -> bool:
        return bool(await client.ping())

    return check
