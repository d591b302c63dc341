"""Reading a tenant's lookup counts through any replica."""

from __future__ import annotations

import asyncio

from sluicegate.cache.v1 import cache_pb2, cache_pb2_grpc


async def settled_stats(
    replica: cache_pb2_grpc.CacheServiceStub, tenant: str, lookups: int
) -> cache_pb2.GetStatsResponse:
    """The tenant's stats once `lookups` lookups are counted: another replica writes its counts in batches, up
    to 20 ms after them (a replica's own are written before it answers a stats read)."""
    for _ in range(100):
        stats = await replica.GetStats(cache_pb2.GetStatsRequest(tenant_id=tenant))
        if stats.exact_hits + stats.semantic_hits + stats.misses >= lookups:
            return stats
        await asyncio.sleep(0.01)
    return stats
