"""While its change channel is down, a replica serves exact hits only, at once: a lookup never waits for the
subscription to come back."""

from __future__ import annotations

import asyncio
import contextlib
import time

import redis.asyncio as aioredis
from cache_builders import POLICY, FakeClock, answer, conversation, question_limits

from sluicegate.common.v1 import chat_pb2
from sluicegate.embedding import SentenceEmbedder
from sluicegate_cache.counters import HitCounters
from sluicegate_cache.exact import ExactCache
from sluicegate_cache.replica import ReplicaIndex
from sluicegate_cache.results import Outcome
from sluicegate_cache.semantic import SemanticCache, embed_off_loop
from sluicegate_cache.service import CacheService
from sluicegate_cache.thresholds import TenantThresholds

NO_CONTROL = chat_pb2.CacheControl()


async def test_a_lookup_while_the_channel_is_down_does_not_wait_for_it(
    redis: aioredis.Redis, redis_url: str, embedder: SentenceEmbedder
) -> None:
    clock = FakeClock()
    entries = ExactCache(redis, 50)
    # A long retry interval: the channel stays down for the whole test once lost.
    replica = ReplicaIndex(redis, check_interval_seconds=5.0, clock=clock)
    layer = SemanticCache(entries, replica, embed_off_loop(embedder), TenantThresholds(0.86, {}), question_limits())
    service = CacheService(entries, HitCounters(redis), POLICY, clock=clock, semantic=layer)
    following = asyncio.ensure_future(replica.run())
    try:
        await service.store(conversation("How do I reset my password?"), NO_CONTROL, answer(), False)
        hit = await service.lookup(conversation("How can I reset my password?"), NO_CONTROL)
        assert hit.outcome is Outcome.HIT_SEMANTIC
        admin = aioredis.Redis.from_url(redis_url)
        await admin.client_kill_filter(_type="pubsub")
        await admin.aclose()
        await asyncio.sleep(0.2)  # the replica reads the close

        started = time.monotonic()
        missed = await service.lookup(conversation("How do I change my email address?"), NO_CONTROL)
        paraphrase = await service.lookup(conversation("What are the steps to reset my password?"), NO_CONTROL)
        exact = await service.lookup(conversation("How do I reset my password?"), NO_CONTROL)
        assert time.monotonic() - started < 1.0  # before: each semantic lookup waited up to the 5 s interval
        assert (missed.outcome, paraphrase.outcome, exact.outcome) == (Outcome.MISS, Outcome.MISS, Outcome.HIT_EXACT)
    finally:
        following.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await following
