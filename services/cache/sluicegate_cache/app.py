"""Wires the cache: Redis client, exact and semantic layers, counters, store policy, servicer, validators and
readiness."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import redis.asyncio as aioredis

from sluicegate.cache.v1 import cache_pb2, cache_pb2_grpc
from sluicegate.embedding import SentenceEmbedder
from sluicegate.runtime.redis import create_redis, redis_readiness
from sluicegate.runtime.server import Build, ServiceApp
from sluicegate_cache.counters import HitCounters
from sluicegate_cache.exact import ExactCache
from sluicegate_cache.gate import QuestionGate
from sluicegate_cache.policy import StorePolicy
from sluicegate_cache.questions import QuestionLimits, minilm_token_ids
from sluicegate_cache.replica import ReplicaIndex
from sluicegate_cache.semantic import SemanticCache, embed_off_loop
from sluicegate_cache.service import CacheService, Clock
from sluicegate_cache.servicer import SERVICE_NAME, CacheServicer
from sluicegate_cache.settings import CacheSettings
from sluicegate_cache.thresholds import TenantThresholds, load_tenant_floors
from sluicegate_cache.validation import validate_get_stats, validate_invalidate, validate_lookup, validate_store


def make_build(
    settings: CacheSettings,
    redis: aioredis.Redis | None = None,
    clock: Clock = time.time,
    embedder: SentenceEmbedder | None = None,
) -> Build:
    """The service's build; a test may hand in its own Redis client (which it then closes), clock and embedder
    (one loaded model shared by several in-process replicas)."""

    async def build(app: ServiceApp) -> None:
        client = redis
        if client is None:
            client = create_redis(
                settings.redis_url,
                max_connections=settings.redis_max_connections,
                timeout_seconds=settings.redis_timeout_seconds,
            )
            app.on_shutdown(client.aclose)
        policy = StorePolicy(
            default_ttl_seconds=settings.default_ttl_seconds,
            max_ttl_seconds=settings.max_ttl_seconds,
            max_bytes_per_entry=settings.max_bytes_per_entry,
            max_temperature=settings.max_temperature,
        )
        entries = ExactCache(client, settings.max_entries_per_tenant)
        semantic = None
        if settings.semantic_enabled:
            semantic = await _semantic_layer(app, settings, client, entries, embedder, clock)
        counters = HitCounters(client)
        app.on_shutdown(counters.drain)  # cleanups run in reverse: the counts are written before Redis closes
        service = CacheService(entries=entries, counters=counters, policy=policy, clock=clock, semantic=semantic)
        app.add_servicer(cache_pb2_grpc.add_CacheServiceServicer_to_server, CacheServicer(service), SERVICE_NAME)
        app.add_validator(cache_pb2.LookupRequest, validate_lookup)
        app.add_validator(cache_pb2.StoreRequest, validate_store)
        app.add_validator(cache_pb2.InvalidateRequest, validate_invalidate)
        app.add_validator(cache_pb2.GetStatsRequest, validate_get_stats)
        app.add_readiness_check("redis", redis_readiness(client))

    return build


async def _semantic_layer(
    app: ServiceApp,
    settings: CacheSettings,
    client: aioredis.Redis,
    entries: ExactCache,
    embedder: SentenceEmbedder | None,
    clock: Clock,
) -> SemanticCache:
    if embedder is None:
        embedder = await asyncio.to_thread(SentenceEmbedder, threads=settings.semantic_embed_threads)
    executor = ThreadPoolExecutor(max_workers=settings.semantic_embed_threads, thread_name_prefix="embed")

    async def stop_executor() -> None:
        executor.shutdown(wait=False, cancel_futures=True)

    app.on_shutdown(stop_executor)
    replica = ReplicaIndex(client, settings.semantic_sync_check_seconds, clock)
    app.spawn(replica.run())
    floors = {**load_tenant_floors(settings.semantic_thresholds_file), **settings.semantic_thresholds}
    token_ids, unknown_id = await asyncio.to_thread(minilm_token_ids)
    limits = QuestionLimits(
        token_ids,
        unknown_id,
        max_words=settings.semantic_max_question_words,
        max_chars=settings.semantic_max_question_chars,
    )
    return SemanticCache(
        entries,
        replica,
        embed_off_loop(embedder, executor),
        TenantThresholds(settings.semantic_threshold, floors),
        limits,
        QuestionGate(settings.semantic_substitution_similarity, settings.semantic_swap_similarity),
    )
