"""Per-tenant hit and miss counters kept in Redis, so every cache replica counts into the same totals."""

from __future__ import annotations

import redis.asyncio as aioredis

from sluicegate_cache.layout import TenantKeys
from sluicegate_cache.results import Outcome

_FIELDS = {Outcome.HIT_EXACT: "exact_hits", Outcome.HIT_SEMANTIC: "semantic_hits", Outcome.MISS: "misses"}


class HitCounters:
    """Counts lookups by outcome; skipped lookups are not counted."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis

    async def record(self, tenant_id: str, outcome: Outcome) -> None:
        field = _FIELDS.get(outcome)
        if field:
            await self._redis.hincrby(TenantKeys(tenant_id).counts, field, 1)

    async def read(self, tenant_id: str) -> dict[Outcome, int]:
        values = await self._redis.hmget(TenantKeys(tenant_id).counts, list(_FIELDS.values()))
        return {outcome: int(value or 0) for outcome, value in zip(_FIELDS, values, strict=True)}
