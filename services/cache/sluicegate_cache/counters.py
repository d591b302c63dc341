"""Per-tenant hit and miss counters kept in Redis, so every cache replica counts into the same totals."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from sluicegate_cache.layout import TenantKeys
from sluicegate_cache.results import Outcome

_FIELDS = {Outcome.HIT_EXACT: "exact_hits", Outcome.HIT_SEMANTIC: "semantic_hits", Outcome.MISS: "misses"}
_SIMILARITY_SUM = "semantic_similarity_sum"


@dataclass(frozen=True)
class Counts:
    """Lookups by outcome, and the summed similarity of the semantic hits (for their mean)."""

    hits: dict[Outcome, int]
    similarity_sum: float


class HitCounters:
    """Counts lookups by outcome; skipped lookups are not counted."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis

    async def record(self, tenant_id: str, outcome: Outcome, similarity: float = 0.0) -> None:
        field = _FIELDS.get(outcome)
        if not field:
            return
        key = TenantKeys(tenant_id).counts
        if outcome is Outcome.HIT_SEMANTIC:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hincrby(key, field, 1)
                pipe.hincrbyfloat(key, _SIMILARITY_SUM, similarity)
                await pipe.execute()
        else:
            await self._redis.hincrby(key, field, 1)

    async def read(self, tenant_id: str) -> Counts:
        values = await self._redis.hmget(TenantKeys(tenant_id).counts, [*_FIELDS.values(), _SIMILARITY_SUM])
        hits = {outcome: int(value or 0) for outcome, value in zip(_FIELDS, values, strict=False)}
        return Counts(hits=hits, similarity_sum=float(values[-1] or 0.0))
