"""When the semantic layer embeds a question. A lookup that will most likely miss the exact layer starts embedding
while the exact layer is still asked; one whose entry this replica's index already holds (most likely an exact hit)
does not embed at all, nor does a question longer than the layer compares."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis
from cache_builders import POLICY, CountingEmbedder, FakeClock, answer, conversation, semantic_layer

from sluicegate.common.v1 import chat_pb2
from sluicegate.embedding import SentenceEmbedder
from sluicegate_cache.counters import HitCounters
from sluicegate_cache.exact import ExactCache
from sluicegate_cache.replica import ReplicaIndex
from sluicegate_cache.results import CacheQuery, LookupResult, Outcome
from sluicegate_cache.service import CacheService

NO_CONTROL = chat_pb2.CacheControl()
STORED = "How do I rotate the signing keys of the billing service?"
PARAPHRASE = "How can I rotate the signing keys of the billing service?"


class SlowExactCache(ExactCache):
    """The exact layer answering after 50 ms, noting what the model had been asked to embed by then."""

    def __init__(self, redis: aioredis.Redis, model: CountingEmbedder) -> None:
        super().__init__(redis, 50)
        self._model = model
        self.embedded_before_answer: list[list[str]] = []

    async def lookup(self, query: CacheQuery, now: float) -> LookupResult | None:
        await asyncio.sleep(0.05)
        self.embedded_before_answer.append(list(self._model.texts))
        return await super().lookup(query, now)


@dataclass
class Replica:
    """One cache server: its service, its own model memory, its exact layer and its index."""

    service: CacheService
    model: CountingEmbedder
    exact: SlowExactCache
    index: ReplicaIndex


@pytest.fixture
async def start_replica(redis: aioredis.Redis, embedder: SentenceEmbedder) -> AsyncIterator[Callable[[], Replica]]:
    following: list[asyncio.Future] = []
    clock = FakeClock()

    def start() -> Replica:
        model = CountingEmbedder(embedder)
        exact = SlowExactCache(redis, model)
        layer, replica = semantic_layer(redis, clock, model, exact)
        following.append(asyncio.ensure_future(replica.run()))
        service = CacheService(exact, HitCounters(redis), POLICY, clock=clock, semantic=layer)
        return Replica(service, model, exact, replica)

    yield start
    for task in following:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_question_the_replica_has_no_entry_for_is_embedded_while_the_exact_layer_is_asked(
    start_replica,
) -> None:
    cache = start_replica()
    stored = await cache.service.store(conversation(STORED), NO_CONTROL, answer(), False)
    await cache.service.lookup(conversation("Where are the billing service's logs kept?"), NO_CONTROL)  # loads
    cache.model.texts.clear()
    cache.exact.embedded_before_answer.clear()

    hit = await cache.service.lookup(conversation(PARAPHRASE), NO_CONTROL)

    assert (hit.outcome, hit.entry_id) == (Outcome.HIT_SEMANTIC, stored.entry_id)
    assert cache.exact.embedded_before_answer == [[PARAPHRASE]]  # under way before the exact layer answered
    assert cache.model.texts == [PARAPHRASE]  # once: the lookup shared the run begun early


async def test_an_entry_the_replica_holds_is_served_exactly_without_embedding_its_question(start_replica) -> None:
    writer, reader = start_replica(), start_replica()  # the reader's model has never seen the question
    stored = await writer.service.store(conversation(STORED), NO_CONTROL, answer(), False)
    await reader.service.lookup(conversation("Where are the billing service's logs kept?"), NO_CONTROL)  # loads
    for _ in range(100):  # the reader's index follows the writer's store
        if reader.index.held("acme").holds(stored.entry_id):
            break
        await asyncio.sleep(0.01)
    reader.model.texts.clear()

    hit = await reader.service.lookup(conversation(STORED), NO_CONTROL)
    await asyncio.sleep(0.05)  # an embedding begun early would have reached the model by now

    assert (hit.outcome, hit.entry_id) == (Outcome.HIT_EXACT, stored.entry_id)
    assert reader.model.texts == []


async def test_a_question_no_stored_question_can_match_is_not_embedded_early(start_replica) -> None:
    cache = start_replica()
    await cache.service.store(conversation("Summarize ticket 48213 in two lines"), NO_CONTROL, answer(), False)
    await cache.service.lookup(conversation("Where are the billing service's logs kept?"), NO_CONTROL)  # loads
    cache.model.texts.clear()

    missed = await cache.service.lookup(conversation("Summarize ticket 59120 in two lines"), NO_CONTROL)
    await asyncio.sleep(0.05)

    assert missed.outcome is Outcome.MISS
    assert cache.model.texts == []


@contextlib.asynccontextmanager
async def eight_word_cache(redis, embedder) -> AsyncIterator[tuple[CacheService, CountingEmbedder]]:
    """A cache whose semantic layer compares questions of at most 8 words, and the model it asks."""
    model = CountingEmbedder(embedder)
    entries = ExactCache(redis, 50)
    clock = FakeClock()
    layer, replica = semantic_layer(redis, clock, model, entries, max_question_words=8)
    following = asyncio.ensure_future(replica.run())
    try:
        yield CacheService(entries, HitCounters(redis), POLICY, clock=clock, semantic=layer), model
    finally:
        following.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await following


LONG_QUESTION = "Please explain in detail how I should rotate the signing keys of the billing service"


async def test_a_question_longer_than_the_limit_is_left_to_the_exact_layer(redis, embedder) -> None:
    async with eight_word_cache(redis, embedder) as (cache, model):
        await cache.store(conversation(LONG_QUESTION), NO_CONTROL, answer(), False)
        await cache.store(conversation(STORED), NO_CONTROL, answer(), False)  # 10 words: over the limit too
        await cache.store(conversation("How do I rotate keys?"), NO_CONTROL, answer(), False)
        paraphrase = await cache.lookup(conversation(LONG_QUESTION.replace("how I should", "how to")), NO_CONTROL)
        short = await cache.lookup(conversation("How can I rotate keys?"), NO_CONTROL)
        exact = await cache.lookup(conversation(LONG_QUESTION), NO_CONTROL)

    assert (paraphrase.outcome, short.outcome, exact.outcome) == (Outcome.MISS, Outcome.HIT_SEMANTIC, Outcome.HIT_EXACT)
    assert model.texts == ["How do I rotate keys?", "How can I rotate keys?"]  # no long question was embedded


async def test_a_lookup_does_not_wait_for_a_slow_tenant_load_and_the_load_goes_on(start_replica) -> None:
    writer = start_replica()
    stored = await writer.service.store(conversation(STORED), NO_CONTROL, answer(), False)
    reader = start_replica()
    load = reader.index._load

    async def slow_load(tenant_id, state):  # a large tenant
        await asyncio.sleep(0.3)
        await load(tenant_id, state)

    reader.index._load = slow_load
    started = time.perf_counter()
    first = await reader.service.lookup(conversation(PARAPHRASE), NO_CONTROL)
    waited = time.perf_counter() - started
    await asyncio.sleep(0.35)
    second = await reader.service.lookup(conversation(PARAPHRASE), NO_CONTROL)

    assert first.outcome is Outcome.MISS and waited < 0.25  # left to the exact layer (50 ms here) after 50 ms
    assert (second.outcome, second.entry_id) == (Outcome.HIT_SEMANTIC, stored.entry_id)


async def test_a_caller_that_wants_a_long_questions_embedding_gets_its_opening_words(redis, embedder) -> None:
    async with eight_word_cache(redis, embedder) as (cache, model):
        missed = await cache.lookup(conversation(LONG_QUESTION), NO_CONTROL, embedding_wanted=True)
        await cache.store(conversation(LONG_QUESTION), NO_CONTROL, answer(), False)
        model.texts.clear()
        hit = await cache.lookup(conversation(LONG_QUESTION), NO_CONTROL, embedding_wanted=True)
        unwanted = await cache.lookup(conversation(LONG_QUESTION + " today"), NO_CONTROL)

    opening = "Please explain in detail how I should rotate"
    assert missed.outcome is Outcome.MISS
    assert missed.question_embedding == embedder.embed_one(opening).astype("<f4").tobytes()
    assert (hit.outcome, hit.question_embedding) == (Outcome.HIT_EXACT, b"")
    assert unwanted.outcome is Outcome.MISS and unwanted.question_embedding == b""
    assert model.texts == []  # neither the exact hit nor a caller that does not want it embeds anything
