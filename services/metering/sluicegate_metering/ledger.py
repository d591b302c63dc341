"""Rebuilds the money counters from the ledger: what each bucket spent, what live reservations hold, and the
per-day spend aggregates. The ledger (`sg:ledger`, one entry per settlement, written in the same script as the
counters) is the record; the counters are a view of it that can be recomputed exactly."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import WatchError

from sluicegate_metering import storage
from sluicegate_metering.budgets import bucket_expires_at_from_id
from sluicegate_metering.records import Principal, UsageCharge
from sluicegate_metering.spend import spend_increments

READ_BATCH = 1_000
MAX_ATTEMPTS = 5
COUNTER_PATTERNS = ("sg:bucket:*", "sg:spend:*")


@dataclass(frozen=True)
class RebuildSummary:
    """What a rebuild read and wrote. `entries_without_buckets` are settlements older than the ledger's
    `buckets` field: they count in the spend aggregates but cannot be put back on their buckets."""

    entries: int
    entries_without_buckets: int
    buckets: int
    spend_days: int


@dataclass
class _Counters:
    spent: Counter[str]
    reserved: Counter[str]
    limits: dict[str, int]
    spend: defaultdict[str, Counter[str]]
    spend_expire_at: dict[str, int]


class LedgerRebuild:
    """Replaces every bucket and spend counter with the values the ledger and the live reservations imply.

    It runs optimistically: the ledger and the reservation holds are WATCHed while they are read, and the
    replacement (one MULTI) is dropped and redone when a settlement or reservation landed meanwhile.
    """

    def __init__(self, client: aioredis.Redis, spend_retention_days: int = 400) -> None:
        self._redis = client
        self._spend_ttl_seconds = spend_retention_days * 86_400

    async def rebuild(self) -> RebuildSummary:
        for _ in range(MAX_ATTEMPTS):
            async with self._redis.pipeline(transaction=True) as pipe:
                await pipe.watch(storage.LEDGER, storage.RESERVATION_HOLDS)
                counters = _Counters(Counter(), Counter(), {}, defaultdict(Counter), {})
                entries, without_buckets = await self._read_ledger(pipe, counters)
                await self._read_holds(pipe, counters)
                stale = [key for pattern in COUNTER_PATTERNS async for key in pipe.scan_iter(match=pattern)]
                pipe.multi()
                if stale:
                    pipe.delete(*stale)
                buckets = set(counters.spent) | set(counters.reserved)
                for bucket in buckets:
                    key = storage.bucket_counters(bucket)
                    fields = {"spent": counters.spent[bucket], "reserved": counters.reserved[bucket]}
                    if bucket in counters.limits:
                        fields["limit"] = counters.limits[bucket]
                    pipe.hset(key, mapping=fields)
                    expire_at = bucket_expires_at_from_id(bucket)
                    if expire_at:
                        pipe.expireat(key, expire_at)
                for key, increments in counters.spend.items():
                    pipe.hset(key, mapping=dict(increments))
                    pipe.expireat(key, counters.spend_expire_at[key])
                try:
                    await pipe.execute()
                except WatchError:
                    continue
                return RebuildSummary(entries, without_buckets, len(buckets), len(counters.spend))
        raise RuntimeError(f"settlements kept landing during {MAX_ATTEMPTS} rebuild attempts; pause traffic")

    async def _read_ledger(self, pipe, counters: _Counters) -> tuple[int, int]:
        entries = without_buckets = 0
        start = "-"
        while True:
            batch = await pipe.xrange(storage.LEDGER, min=start, max="+", count=READ_BATCH)
            for _, raw in batch:
                entry = storage.decoded(raw)
                entries += 1
                if not self._count_buckets(entry, counters):
                    without_buckets += 1
                self._count_spend(entry, counters)
            if len(batch) < READ_BATCH:
                return entries, without_buckets
            start = "(" + batch[-1][0].decode()

    @staticmethod
    def _count_buckets(entry: dict[str, str], counters: _Counters) -> bool:
        if "buckets" not in entry:
            return False
        buckets = json.loads(entry["buckets"])
        for bucket, limit in zip(buckets, json.loads(entry["bucket_limits"]), strict=True):
            counters.spent[bucket] += int(entry["cost_micros_usd"])
            counters.limits[bucket] = limit
        return True

    def _count_spend(self, entry: dict[str, str], counters: _Counters) -> None:
        principal = Principal(
            tenant_id=entry["tenant_id"], team_id=entry["team_id"], user_id=entry["user_id"], key_id=entry["key_id"]
        )
        charged = json.loads(entry["charges"])
        charges = [
            UsageCharge(
                model=charge["model"],
                deployment=charge["deployment"],
                prompt_tokens=charge["prompt_tokens"],
                completion_tokens=charge["completion_tokens"],
            )
            for charge in charged
        ]
        costs = [charge["cost_micros_usd"] for charge in charged]
        reserved_model = entry.get("reserved_model", entry["model"])
        key = storage.daily_spend(principal.tenant_id, entry["day"])
        counters.spend[key].update(spend_increments(principal, charges, costs, reserved_model))
        expire_at = int(float(entry["settled_at"])) + self._spend_ttl_seconds
        counters.spend_expire_at[key] = max(expire_at, counters.spend_expire_at.get(key, 0))

    async def _read_holds(self, pipe, counters: _Counters) -> None:
        holds = storage.decoded(await pipe.hgetall(storage.RESERVATION_HOLDS))
        # The records only give the buckets' limits, which the next reservation rewrites anyway: reading them
        # outside the WATCH, in one round trip, is enough.
        async with self._redis.pipeline(transaction=False) as records:
            for reservation_id in holds:
                records.hget(storage.reservation(reservation_id), "limits")
            limits = await records.execute()
        for hold, bucket_limits in zip(holds.values(), limits, strict=True):
            amount, _, encoded = hold.partition("|")
            buckets = json.loads(encoded)
            for bucket in buckets:
                counters.reserved[bucket] += int(amount)
            for bucket, limit in zip(buckets, json.loads(bucket_limits) if bucket_limits else [], strict=False):
                counters.limits[bucket] = limit
