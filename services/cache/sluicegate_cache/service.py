"""The cache as the other services see it: lookups through the layers in order, store rules, invalidation, stats."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from redis.exceptions import RedisError

from sluicegate.cache.v1 import cache_pb2
from sluicegate.common.v1 import chat_pb2, errors_pb2
from sluicegate.runtime.errors import unavailable
from sluicegate.runtime.logs import get_logger
from sluicegate_cache.canonical import entry_id_for
from sluicegate_cache.counters import HitCounters
from sluicegate_cache.exact import ExactCache
from sluicegate_cache.names import require_entry_id, require_name, resolve_namespace
from sluicegate_cache.policy import TOO_LARGE, StorePolicy
from sluicegate_cache.results import CacheQuery, CacheStats, LookupResult, Outcome, StoreResult
from sluicegate_cache.semantic import SemanticCache

Clock = Callable[[], float]

log = get_logger(__name__)


class LookupLayer(Protocol):
    """One way of finding an answer (exact, then semantic); layers are asked in order, first hit wins. A layer
    may answer a miss that carries what it computed (the question's embedding) instead of None."""

    async def lookup(self, query: CacheQuery, now: float) -> LookupResult | None: ...

    def begin(self, query: CacheQuery) -> None:
        """Starts, before any layer is asked, slow work its own lookup of `query` will want (it must not need it)."""


@contextlib.contextmanager
def _redis_unavailable() -> Iterator[None]:
    """A Redis failure becomes UNAVAILABLE: the orchestrator then serves the request uncached."""
    try:
        yield
    except RedisError as exc:
        # Redis errors name commands and key names (tenant ids and hashes), never prompt text.
        log.warning("redis call failed", error=type(exc).__name__, detail=str(exc)[:200])
        raise unavailable(
            errors_pb2.ERROR_REASON_CACHE_UNAVAILABLE, "cache storage unavailable", retry_after_seconds=1.0
        ) from exc


def _scope(key: cache_pb2.CacheKey, control: chat_pb2.CacheControl) -> tuple[str, str]:
    """The request's tenant and namespace, checked again here so no unchecked name ever reaches a Redis key."""
    return require_name(key.tenant_id, "key.tenant_id"), resolve_namespace(key.namespace, control.namespace)


class CacheService:
    """Serves lookups, stores, invalidations and stats for every tenant, each in its own partition."""

    def __init__(
        self,
        entries: ExactCache,
        counters: HitCounters,
        policy: StorePolicy,
        clock: Clock = time.time,
        semantic: SemanticCache | None = None,
        layers: Sequence[LookupLayer] | None = None,
    ) -> None:
        self._entries = entries
        self._counters = counters
        self._policy = policy
        self._clock = clock
        self._semantic = semantic
        if layers is None:
            layers = (entries,) if semantic is None else (entries, semantic)
        self._layers = tuple(layers)

    async def lookup(
        self, key: cache_pb2.CacheKey, control: chat_pb2.CacheControl, embedding_wanted: bool = False
    ) -> LookupResult:
        tenant_id, namespace = _scope(key, control)
        if control.no_cache:
            return LookupResult(outcome=Outcome.SKIPPED)
        query = CacheQuery(tenant_id, namespace, entry_id_for(key, namespace), key, control, embedding_wanted)
        now = self._clock()
        for layer in self._layers:
            layer.begin(query)
        with _redis_unavailable():
            result = LookupResult(outcome=Outcome.MISS)
            for layer in self._layers:
                found = await layer.lookup(query, now)
                if found is None:
                    continue
                result = found
                if found.outcome is not Outcome.MISS:
                    break
        self._counters.count(tenant_id, result.outcome, result.similarity)
        return result

    async def store(
        self,
        key: cache_pb2.CacheKey,
        control: chat_pb2.CacheControl,
        answer: cache_pb2.CachedAnswer,
        guard_flagged: bool,
    ) -> StoreResult:
        tenant_id, namespace = _scope(key, control)
        refusal = self._policy.refusal(key.params, control, answer, guard_flagged)
        if refusal:
            return StoreResult(stored=False, skipped_reason=refusal)
        now = self._clock()
        entry = cache_pb2.CachedAnswer()
        entry.CopyFrom(answer)
        entry.created_at.FromNanoseconds(int(now * 1e9))
        payload = entry.SerializeToString()
        if not self._policy.fits(len(payload)):
            return StoreResult(stored=False, skipped_reason=TOO_LARGE)
        entry_id = entry_id_for(key, namespace)
        ttl_seconds = self._policy.ttl_seconds(control)
        record = b""
        if self._semantic is not None:
            record = await self._semantic.record_for(key, namespace, int(now * 1000) + ttl_seconds * 1000)
        with _redis_unavailable():
            evicted = await self._entries.put(tenant_id, namespace, entry_id, payload, ttl_seconds, now, record)
        return StoreResult(stored=True, entry_id=entry_id, evicted=evicted)

    async def invalidate(self, tenant_id: str, namespace: str, entry_id: str) -> int:
        """Removes one entry, one namespace or all of the tenant's entries; returns how many were removed."""
        require_name(tenant_id, "tenant_id")
        if namespace:
            require_name(namespace, "namespace")
        if entry_id:
            require_entry_id(entry_id)
        with _redis_unavailable():
            return await self._entries.invalidate(tenant_id, namespace, entry_id, self._clock())

    async def stats(self, tenant_id: str) -> CacheStats:
        require_name(tenant_id, "tenant_id")
        with _redis_unavailable():
            counts = await self._counters.read(tenant_id)
            entries, total_bytes = await self._entries.size(tenant_id, self._clock())
        return CacheStats(
            exact_hits=counts.hits[Outcome.HIT_EXACT],
            semantic_hits=counts.hits[Outcome.HIT_SEMANTIC],
            misses=counts.hits[Outcome.MISS],
            semantic_similarity_sum=counts.similarity_sum,
            entries=entries,
            bytes=total_bytes,
        )
