"""The gRPC face of the cache: converts between the CacheService protos and the domain's values, nothing else."""

from __future__ import annotations

import grpc

from sluicegate.cache.v1 import cache_pb2, cache_pb2_grpc
from sluicegate.common.v1 import decision_pb2
from sluicegate_cache.results import Outcome
from sluicegate_cache.service import CacheService

SERVICE_NAME = cache_pb2.DESCRIPTOR.services_by_name["CacheService"].full_name

_OUTCOMES = {
    Outcome.MISS: decision_pb2.CACHE_OUTCOME_MISS,
    Outcome.HIT_EXACT: decision_pb2.CACHE_OUTCOME_HIT_EXACT,
    Outcome.HIT_SEMANTIC: decision_pb2.CACHE_OUTCOME_HIT_SEMANTIC,
    Outcome.SKIPPED: decision_pb2.CACHE_OUTCOME_SKIPPED,
}


class CacheServicer(cache_pb2_grpc.CacheServiceServicer):
    def __init__(self, service: CacheService) -> None:
        self._service = service

    async def Lookup(
        self, request: cache_pb2.LookupRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.LookupResponse:
        result = await self._service.lookup(request.key, request.control, request.embedding_wanted)
        decision = decision_pb2.CacheDecision(
            outcome=_OUTCOMES[result.outcome],
            similarity=result.similarity,
            age_seconds=result.age_seconds,
            entry_id=result.entry_id,
        )
        return cache_pb2.LookupResponse(
            decision=decision, answer=result.answer, question_embedding=result.question_embedding
        )

    async def Store(
        self, request: cache_pb2.StoreRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.StoreResponse:
        result = await self._service.store(request.key, request.control, request.answer, request.guard_flagged)
        return cache_pb2.StoreResponse(
            stored=result.stored, skipped_reason=result.skipped_reason, entry_id=result.entry_id
        )

    async def Invalidate(
        self, request: cache_pb2.InvalidateRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.InvalidateResponse:
        removed = await self._service.invalidate(request.tenant_id, request.namespace, request.entry_id)
        return cache_pb2.InvalidateResponse(removed_entries=removed)

    async def GetStats(
        self, request: cache_pb2.GetStatsRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.GetStatsResponse:
        stats = await self._service.stats(request.tenant_id)
        return cache_pb2.GetStatsResponse(
            exact_hits=stats.exact_hits,
            semantic_hits=stats.semantic_hits,
            misses=stats.misses,
            entries=stats.entries,
            bytes=stats.bytes,
            hit_rate=stats.hit_rate,
            mean_semantic_similarity=stats.mean_semantic_similarity,
        )
