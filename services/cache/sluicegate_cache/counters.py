"""Per-tenant hit and miss counters kept in Redis, so every cache replica counts into the same totals."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from sluicegate.runtime.logs import get_logger
from sluicegate_cache.layout import TenantKeys
from sluicegate_cache.results import Outcome

_FIELDS = {Outcome.HIT_EXACT: "exact_hits", Outcome.HIT_SEMANTIC: "semantic_hits", Outcome.MISS: "misses"}
_SIMILARITY_SUM = "semantic_similarity_sum"

log = get_logger(__name__)


@dataclass(frozen=True)
class Counts:
    """Lookups by outcome, and the summed similarity of the semantic hits (for their mean)."""

    hits: dict[Outcome, int]
    similarity_sum: float


class HitCounters:
    """Counts lookups by outcome; skipped lookups are not counted.

    A lookup's count is written off its reply path (`count`): the answer does not wait for a Redis round trip
    that only feeds the statistics, and a count that fails is logged, never the lookup's failure. This
    replica's `read` waits for its own counts still on their way, so its stats include every lookup it answered.
    """

    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis
        self._pending: set[asyncio.Task] = set()

    def count(self, tenant_id: str, outcome: Outcome, similarity: float = 0.0) -> None:
        task = asyncio.ensure_future(self._record_logged(tenant_id, outcome, similarity))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def drain(self) -> None:
        """Waits for the counts on their way (before a read, and at shutdown)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def _record_logged(self, tenant_id: str, outcome: Outcome, similarity: float) -> None:
        try:
            await self.record(tenant_id, outcome, similarity)
        except RedisError as exc:
            log.warning("lookup count lost", error=type(exc).__name__)

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
        await self.drain()
        values = await self._redis.hmget(TenantKeys(tenant_id).counts, [*_FIELDS.values(), _SIMILARITY_SUM])
        hits = {outcome: int(value or 0) for outcome, value in zip(_FIELDS, values, strict=False)}
        return Counts(hits=hits, similarity_sum=float(values[-1] or 0.0))
