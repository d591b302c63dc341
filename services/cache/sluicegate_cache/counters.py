"""Per-tenant hit and miss counters kept in Redis, so every cache replica counts into the same totals."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections import Counter
from collections.abc import Callable
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


# Adds one batch of a replica's counts for a tenant, once: batches are numbered per replica, and a batch sent again
# after a reply that never came (its number not above the last this replica's batches applied) changes nothing.
# KEYS[1] the tenant's counts, KEYS[2] the last batch number applied, by replica; ARGV[1] the replica, ARGV[2] the
# batch number, ARGV[3] how long KEYS[2] is kept (s), then field/amount pairs.
_ADD_BATCH = f"""
local applied = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if tonumber(ARGV[2]) <= applied then
  return 0
end
for i = 4, #ARGV, 2 do
  if ARGV[i] == '{_SIMILARITY_SUM}' then
    redis.call('HINCRBYFLOAT', KEYS[1], ARGV[i], ARGV[i + 1])
  else
    redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
"""
# How long a batch whose write went unanswered is sent again before it is given up as lost (and how long Redis
# keeps each replica's last batch number, so a batch sent again within it is never added twice).
IN_DOUBT_SECONDS = 3600


class HitCounters:
    """Counts lookups by outcome; skipped lookups are not counted.

    A lookup's count is written off its reply path (`count`): the answer does not wait for a Redis round trip
    that only feeds the statistics, and a count that fails is logged, never the lookup's failure. Counts are
    added up in memory and written together, one script a tenant `flush_seconds` (250 ms) after the first of
    them: a replica makes at most 4 round trips a second for its statistics instead of one a lookup. With a 20 ms
    window, at 700-800 cache hits a second in one process, a hit took 1.28-1.33 ms of CPU instead of 1.48 (790-824
    hits/s instead of 701-703); but at 10 full-pipeline requests a second a process, each lookup still made its own
    write, one of a request's five Redis round trips (each wakes Redis: see the README's benchmarks). With 250 ms,
    three processes at 30 requests a second make 0.3 such writes a request instead of 1.0 (the CPU per request
    moved less than this machine's variation from run to run).
    A batch whose write fails is sent again, with its number, at the next window, and the tenant's later counts
    wait behind it: Redis adds each batch once whether or not the failed write had reached it (`_ADD_BATCH`). A
    batch still unwritten after `IN_DOUBT_SECONDS` is given up and logged as lost.
    This replica's `read` (and `drain`, at shutdown) writes its own counts at once, so its stats include every
    lookup it answered; another replica's may miss the last 250 ms.
    """

    def __init__(
        self, redis: aioredis.Redis, flush_seconds: float = 0.25, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._add_batch = redis.register_script(_ADD_BATCH)
        self._redis = redis
        self._flush_seconds = flush_seconds
        self._clock = clock
        self._replica = uuid.uuid4().hex
        self._numbers = itertools.count(1)
        # Per tenant: counts by field, and the semantic hits' summed similarity; not yet sent.
        self._unsent: dict[str, Counter] = {}
        # Per tenant: a batch sent without an answer (Redis may have added it or not): number, counts, first sent.
        self._in_doubt: dict[str, tuple[int, Counter, float]] = {}
        self._flushing: asyncio.Task | None = None
        # Set to write the counts held now rather than at the end of the window.
        self._now = asyncio.Event()
        # Resolved when the next write of everything held has been tried.
        self._next_attempt: asyncio.Future | None = None

    def count(self, tenant_id: str, outcome: Outcome, similarity: float = 0.0) -> None:
        field = _FIELDS.get(outcome)
        if not field:
            return
        unsent = self._unsent.setdefault(tenant_id, Counter())
        unsent[field] += 1
        if outcome is Outcome.HIT_SEMANTIC:
            unsent[_SIMILARITY_SUM] += similarity
        self._start_flushing()

    def _start_flushing(self) -> None:
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.ensure_future(self._flush())

    async def drain(self) -> None:
        """Writes the counts held back at once and waits for that write (before a read, and at shutdown). Counts
        Redis did not take stay for the next window."""
        if self._flushing is None or self._flushing.done():
            return
        if self._next_attempt is None:
            self._next_attempt = asyncio.get_running_loop().create_future()
        attempt = self._next_attempt
        self._now.set()
        await asyncio.wait({attempt, self._flushing}, return_when=asyncio.FIRST_COMPLETED)

    async def _flush(self) -> None:
        """Writes what was counted, then what was counted meanwhile, until nothing is left."""
        while self._unsent or self._in_doubt:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._flush_seconds):
                    await self._now.wait()
            self._now.clear()
            attempt, self._next_attempt = self._next_attempt, None
            try:
                batch, self._unsent = self._unsent, {}
                await asyncio.gather(
                    *(self._write_tenant(tenant, batch.get(tenant)) for tenant in {*batch, *self._in_doubt})
                )
            finally:
                if attempt is not None and not attempt.done():
                    attempt.set_result(None)
        self._now.clear()  # a drain that found nothing left to hurry does not cut the next window short

    async def _write_tenant(self, tenant_id: str, counts: Counter | None) -> None:
        """Sends the tenant's batch in doubt, if any, then its new counts (which wait while one is in doubt)."""
        if tenant_id in self._in_doubt and not await self._send(tenant_id, *self._in_doubt[tenant_id]):
            if counts:
                self._unsent.setdefault(tenant_id, Counter()).update(counts)
            return
        if counts:
            await self._send(tenant_id, next(self._numbers), counts, self._clock())

    async def _send(self, tenant_id: str, number: int, counts: Counter, first_sent: float) -> bool:
        """Whether the batch is settled: added (now or by an earlier send), or given up as lost."""
        keys = TenantKeys(tenant_id)
        fields = [item for field, amount in counts.items() for item in (field, amount)]
        try:
            await self._add_batch(
                keys=[keys.counts, keys.counted], args=[self._replica, number, IN_DOUBT_SECONDS, *fields]
            )
        except RedisError as exc:
            if self._clock() - first_sent < IN_DOUBT_SECONDS:
                if tenant_id not in self._in_doubt:  # logged once, not at every window it is sent again
                    log.warning("lookup counts not written, sent again at the next window", error=type(exc).__name__)
                self._in_doubt[tenant_id] = (number, counts, first_sent)
                return False
            lookups = sum(n for field, n in counts.items() if field != _SIMILARITY_SUM)
            log.warning("lookup counts lost", error=type(exc).__name__, lookups=lookups)
        self._in_doubt.pop(tenant_id, None)
        return True

    async def read(self, tenant_id: str) -> Counts:
        await self.drain()
        values = await self._redis.hmget(TenantKeys(tenant_id).counts, [*_FIELDS.values(), _SIMILARITY_SUM])
        hits = {outcome: int(value or 0) for outcome, value in zip(_FIELDS, values, strict=False)}
        return Counts(hits=hits, similarity_sum=float(values[-1] or 0.0))
