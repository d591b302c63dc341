"""The exact layer: answers stored under the SHA-256 of the canonical request, in the tenant's Redis partition."""

from __future__ import annotations

import redis.asyncio as aioredis

from sluicegate.cache.v1 import cache_pb2
from sluicegate_cache import scripts
from sluicegate_cache.layout import TenantKeys, namespace_of
from sluicegate_cache.results import CacheQuery, LookupResult, Outcome


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


class ExactCache:
    """Stores, finds, evicts and removes entries. Every change runs as one Lua script (see scripts.py)."""

    def __init__(self, redis: aioredis.Redis, max_entries_per_tenant: int, scan_batch: int = 500) -> None:
        self._redis = redis
        self._max_entries = max_entries_per_tenant
        self._scan_batch = scan_batch
        self._store = redis.register_script(scripts.STORE)
        self._lookup = redis.register_script(scripts.LOOKUP)
        self._remove = redis.register_script(scripts.REMOVE)
        self._size = redis.register_script(scripts.SIZE)

    def begin(self, query: CacheQuery) -> None:
        """Nothing to start early: the exact lookup is one Redis read."""

    async def lookup(self, query: CacheQuery, now: float) -> LookupResult | None:
        """The entry stored for exactly this request (and marks it used), or None. Notes on `query` the tenant's
        change sequence number as Redis held it then, read in the same round trip (see replica.py)."""
        keys = TenantKeys(query.tenant_id)
        payload, sequence = await self._lookup(
            keys=[keys.entry(query.namespace, query.entry_id), keys.lru, keys.sequence],
            args=[query.entry_id, _ms(now)],
        )
        query.tenant_sequence = int(sequence)
        return _hit(payload, query.entry_id, now, Outcome.HIT_EXACT, 1.0)

    async def fetch(
        self, tenant_id: str, namespace: str, entry_id: str, now: float, outcome: Outcome, similarity: float
    ) -> LookupResult | None:
        """The entry `entry_id` as a hit of the given kind (and marks it used), or None when it is gone."""
        keys = TenantKeys(tenant_id)
        payload = await self._lookup(keys=[keys.entry(namespace, entry_id), keys.lru], args=[entry_id, _ms(now)])
        return _hit(payload, entry_id, now, outcome, similarity)

    async def put(
        self,
        tenant_id: str,
        namespace: str,
        entry_id: str,
        payload: bytes,
        ttl_seconds: int,
        now: float,
        semantic_record: bytes = b"",
    ) -> int:
        """Writes the entry (and its semantic record, if any), evicting the tenant's least recently used entries
        beyond the limit; returns how many were evicted."""
        keys = TenantKeys(tenant_id)
        evicted = await self._store(
            keys=keys.bookkeeping,
            args=[
                keys.prefix,
                _ms(now),
                entry_id,
                namespace,
                payload,
                ttl_seconds * 1000,
                self._max_entries,
                semantic_record,
            ],
        )
        return int(evicted)

    async def invalidate(self, tenant_id: str, namespace: str, entry_id: str, now: float) -> int:
        """Removes one entry (when `entry_id` is given), one namespace, or the whole tenant; returns how many."""
        keys = TenantKeys(tenant_id)
        if entry_id:
            return await self._remove_batch(keys, [(namespace, entry_id)], now)
        # HSCAN over the tenant's own index: the cost follows the tenant's size, not the whole keyspace, and in a
        # cluster the index lives in one slot (a keyspace SCAN would have to visit every node).
        removed = 0
        batch: list[tuple[str, str]] = []
        async for indexed_id, value in self._redis.hscan_iter(keys.index, count=self._scan_batch):
            entry_namespace = namespace_of(value)
            if namespace and entry_namespace != namespace:
                continue
            batch.append((entry_namespace, indexed_id.decode()))
            if len(batch) >= self._scan_batch:
                removed += await self._remove_batch(keys, batch, now)
                batch = []
        if batch:
            removed += await self._remove_batch(keys, batch, now)
        return removed

    async def _remove_batch(self, keys: TenantKeys, entries: list[tuple[str, str]], now: float) -> int:
        flat = [part for entry in entries for part in entry]
        return int(await self._remove(keys=keys.bookkeeping, args=[keys.prefix, _ms(now), *flat]))

    async def size(self, tenant_id: str, now: float) -> tuple[int, int]:
        """(entries, bytes) the tenant holds now, expired entries excluded."""
        keys = TenantKeys(tenant_id)
        entries, total_bytes = await self._size(keys=keys.bookkeeping, args=[keys.prefix, _ms(now)])
        return int(entries), int(total_bytes)


def _hit(payload: bytes | None, entry_id: str, now: float, outcome: Outcome, similarity: float) -> LookupResult | None:
    """The stored entry `payload` as a hit of the given kind, or None when there was none."""
    if payload is None:
        return None
    answer = cache_pb2.CachedAnswer.FromString(payload)
    age = now - answer.created_at.ToNanoseconds() / 1e9
    return LookupResult(
        outcome=outcome, entry_id=entry_id, answer=answer, age_seconds=max(int(age), 0), similarity=similarity
    )
