"""Semantic hits through gRPC with several cache replicas on one Redis: every replica answers alike after stores,
evictions and invalidations, a replica started later loads what exists, a lost change is noticed, and another
tenant never sees a hit."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import numpy as np
import pytest
import redis.asyncio as aioredis
from replica_stats import settled_stats

from sluicegate.cache.v1 import cache_pb2, cache_pb2_grpc
from sluicegate.common.v1 import chat_pb2, decision_pb2
from sluicegate.runtime.channels import create_channel
from sluicegate.runtime.testing import serving
from sluicegate_cache.app import make_build
from sluicegate_cache.canonical import entry_id_for
from sluicegate_cache.exact import ExactCache
from sluicegate_cache.servicer import SERVICE_NAME
from sluicegate_cache.settings import CacheSettings
from sluicegate_cache.subject import subject_of
from sluicegate_cache.vectors import SemanticRecord

HIT = decision_pb2.CACHE_OUTCOME_HIT_SEMANTIC
MISS = decision_pb2.CACHE_OUTCOME_MISS
STORED = "How do I reset my password?"
PARAPHRASE = "What are the steps to reset my password?"
ANSWER = cache_pb2.CachedAnswer(
    text="Use the reset link on the sign-in page.", model="fast", finish_reason=chat_pb2.FINISH_REASON_STOP
)


def key(text: str, tenant: str = "acme") -> cache_pb2.CacheKey:
    return cache_pb2.CacheKey(
        tenant_id=tenant,
        model="fast",
        messages=[chat_pb2.Message(role=chat_pb2.ROLE_USER, content=[chat_pb2.ContentPart(text=text)])],
        params=chat_pb2.GenerationParams(temperature=0.0),
    )


class Cluster:
    """Cache replicas started on demand over one Redis; stopped when the test ends."""

    def __init__(self, stack: AsyncExitStack, redis_url: str, embedder) -> None:
        self._stack, self._redis_url, self._embedder = stack, redis_url, embedder

    async def replica(self, max_entries: int = 100) -> cache_pb2_grpc.CacheServiceStub:
        configured = CacheSettings(
            port=0,
            redis_url=self._redis_url,
            log_requests=False,
            max_entries_per_tenant=max_entries,
            semantic_sync_check_seconds=0.2,
        )
        running = await self._stack.enter_async_context(
            serving("cache", configured, make_build(configured, embedder=self._embedder))
        )
        channel = create_channel(running.address, [SERVICE_NAME], default_timeout_seconds=5)
        self._stack.push_async_callback(channel.close)
        return cache_pb2_grpc.CacheServiceStub(channel)


@pytest.fixture
async def cluster(redis_url: str, embedder) -> AsyncIterator[Cluster]:
    async with AsyncExitStack() as stack:
        yield Cluster(stack, redis_url, embedder)


async def lookup(replica: cache_pb2_grpc.CacheServiceStub, text: str, tenant: str = "acme"):
    return await replica.Lookup(cache_pb2.LookupRequest(key=key(text, tenant)))


async def test_a_paraphrase_stored_through_one_replica_hits_alike_on_the_other(cluster):
    first, second = await cluster.replica(), await cluster.replica()
    assert (await lookup(second, PARAPHRASE)).decision.outcome == MISS  # second has loaded the empty tenant

    stored = await first.Store(cache_pb2.StoreRequest(key=key(STORED), answer=ANSWER))
    answers = [await lookup(replica, PARAPHRASE) for replica in (second, first)]

    for response in answers:
        assert response.decision.outcome == HIT
        assert response.decision.entry_id == stored.entry_id
        assert 0.86 <= response.decision.similarity < 1
        assert response.decision.age_seconds >= 0
        assert response.answer.text == ANSWER.text
    assert answers[0].decision.similarity == pytest.approx(answers[1].decision.similarity)
    stats = await settled_stats(second, "acme", lookups=3)
    assert (stats.semantic_hits, stats.misses) == (2, 1)
    assert stats.mean_semantic_similarity == pytest.approx(answers[0].decision.similarity)


async def test_another_tenant_never_hits_on_any_replica(cluster):
    first, second = await cluster.replica(), await cluster.replica()
    await first.Store(cache_pb2.StoreRequest(key=key(STORED), answer=ANSWER))

    for replica in (first, second):
        for text in (STORED, PARAPHRASE):
            assert (await lookup(replica, text, tenant="globex")).decision.outcome == MISS
    stats = await settled_stats(first, "globex", lookups=4)
    assert (stats.exact_hits, stats.semantic_hits, stats.misses) == (0, 0, 4)


async def test_invalidation_and_eviction_through_one_replica_reach_the_other(cluster):
    first, second = await cluster.replica(max_entries=2), await cluster.replica(max_entries=2)
    await first.Store(cache_pb2.StoreRequest(key=key(STORED), answer=ANSWER))
    assert (await lookup(second, PARAPHRASE)).decision.outcome == HIT

    await second.Invalidate(cache_pb2.InvalidateRequest(tenant_id="acme"))
    for replica in (first, second):
        assert (await lookup(replica, PARAPHRASE)).decision.outcome == MISS

    await first.Store(cache_pb2.StoreRequest(key=key(STORED), answer=ANSWER))
    for filler in ("Who wrote Hamlet?", "What is the boiling point of water?"):
        await second.Store(cache_pb2.StoreRequest(key=key(filler), answer=ANSWER))
    for replica in (first, second):
        assert (await lookup(replica, PARAPHRASE)).decision.outcome == MISS  # evicted as least recently used
        assert (await lookup(replica, "Who was the writer of Hamlet?")).decision.outcome == HIT


async def test_a_replica_started_later_loads_the_existing_entries(cluster):
    first = await cluster.replica()
    await first.Store(cache_pb2.StoreRequest(key=key(STORED), answer=ANSWER))
    late = await cluster.replica()
    assert (await lookup(late, PARAPHRASE)).decision.outcome == HIT


async def test_a_replica_that_missed_a_change_reloads_and_still_agrees(cluster, redis_url, embedder):
    first, second = await cluster.replica(), await cluster.replica()
    assert (await lookup(second, PARAPHRASE)).decision.outcome == MISS
    await first.Store(cache_pb2.StoreRequest(key=key("Who wrote Hamlet?"), answer=ANSWER))
    # A store whose change message was lost: the entry, its record and the sequence number reach Redis, and no
    # replica hears of it.
    client = aioredis.Redis.from_url(redis_url)
    entry_id = entry_id_for(key(STORED), "default")
    stored = cache_pb2.CachedAnswer()
    stored.CopyFrom(ANSWER)
    stored.created_at.GetCurrentTime()
    await ExactCache(client, 100).put("acme", "default", entry_id, stored.SerializeToString(), 60, time.time())
    subject = subject_of(key(STORED), "default")
    record = SemanticRecord(subject.partition, int(time.time() * 1000) + 60_000, embedder.embed_one(STORED), STORED)
    await client.hset("sg:cache:{acme}:vec", entry_id, record.encode())
    await client.incr("sg:cache:{acme}:seq")
    await client.aclose()

    for replica in (second, first):
        response = await lookup(replica, PARAPHRASE)
        assert (response.decision.outcome, response.decision.entry_id) == (HIT, entry_id)
        assert (await lookup(replica, "Who was the writer of Hamlet?")).decision.outcome == HIT


async def test_a_semantic_miss_hands_back_its_embedding_of_the_question(cluster, embedder):
    replica = await cluster.replica()
    await replica.Store(cache_pb2.StoreRequest(key=key(STORED), answer=ANSWER))
    question = "How do I bake sourdough bread?"

    missed = await lookup(replica, question)
    exact = await lookup(replica, STORED)

    assert missed.decision.outcome == MISS
    vector = np.frombuffer(missed.question_embedding, dtype="<f4")
    assert vector.shape == (384,) and float(vector @ embedder.embed([question])[0]) > 0.999
    assert exact.decision.outcome == decision_pb2.CACHE_OUTCOME_HIT_EXACT and not exact.question_embedding
