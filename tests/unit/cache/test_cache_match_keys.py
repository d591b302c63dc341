"""A lookup that no stored question can match (none shares its numbers and negations, or mentions an identifier it
names, which the correctness gate requires) misses without embedding the question; the store after it embeds it
off the client's path."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
import redis.asyncio as aioredis
from cache_builders import POLICY, CountingEmbedder, FakeClock, answer, conversation, semantic_layer

from sluicegate.common.v1 import chat_pb2
from sluicegate.embedding import EMBEDDING_DIMENSIONS, SentenceEmbedder
from sluicegate_cache import gate as gate_module
from sluicegate_cache.counters import HitCounters
from sluicegate_cache.exact import ExactCache
from sluicegate_cache.gate import QuestionGate, identifier_forms, identifiers, index_keys, match_key, may_mention
from sluicegate_cache.results import Outcome
from sluicegate_cache.service import CacheService
from sluicegate_cache.vectors import PartitionIndex, SemanticRecord

NO_CONTROL = chat_pb2.CacheControl()
PAIRS = Path(__file__).parents[3] / "services" / "cache" / "eval" / "pairs.jsonl"


@pytest.fixture
async def counted(
    redis: aioredis.Redis, embedder: SentenceEmbedder
) -> AsyncIterator[tuple[CacheService, CountingEmbedder]]:
    clock = FakeClock()
    counting = CountingEmbedder(embedder)
    entries = ExactCache(redis, 50)
    layer, replica = semantic_layer(redis, clock, counting, entries)
    following = asyncio.ensure_future(replica.run())
    yield CacheService(entries, HitCounters(redis), POLICY, clock=clock, semantic=layer), counting
    following.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await following


@pytest.mark.parametrize(
    ("stored", "asked"),
    [
        ("Summarize ticket 48213 in two lines", "Summarize ticket 59120 in two lines"),
        (
            "Summarize the incident report INC-7f3a2 in two lines",
            "Summarize the incident report INC-9b41c in two lines",
        ),
        ("Is it safe to mix bleach and vinegar?", "Is it not safe to mix bleach and vinegar?"),
    ],
    ids=["number", "identifier", "negation"],
)
async def test_a_question_no_stored_question_can_match_misses_without_embedding(counted, stored, asked) -> None:
    cache, model = counted
    await cache.store(conversation(stored), NO_CONTROL, answer(), False)
    model.texts.clear()

    missed = await cache.lookup(conversation(asked), NO_CONTROL)

    assert (missed.outcome, missed.question_embedding) == (Outcome.MISS, b"")
    assert model.texts == []
    await cache.store(conversation(asked), NO_CONTROL, answer(), False)
    assert model.texts == [asked]  # stored with its vector, off the client's path


@pytest.mark.parametrize(
    ("stored", "asked"),
    [
        ("How do I reset the password of account 42?", "How can I reset the password of account 42?"),
        ("How do I upgrade a cluster to k8s v1.29?", "How can I upgrade a cluster to k8s v1.29?"),
    ],
    ids=["number", "identifier"],
)
async def test_a_question_sharing_a_stored_questions_numbers_and_identifiers_is_embedded_and_can_hit(
    counted, stored, asked
) -> None:
    cache, model = counted
    entry = await cache.store(conversation(stored), NO_CONTROL, answer(), False)
    model.texts.clear()

    hit = await cache.lookup(conversation(asked), NO_CONTROL)

    assert (hit.outcome, hit.entry_id) == (Outcome.HIT_SEMANTIC, entry.entry_id)
    assert model.texts == [asked]


async def test_a_caller_that_wants_the_embedding_gets_it_even_when_no_question_can_match(counted) -> None:
    cache, model = counted
    await cache.store(conversation("Summarize ticket 48213 in two lines"), NO_CONTROL, answer(), False)
    model.texts.clear()

    missed = await cache.lookup(conversation("Summarize ticket 59120 in two lines"), NO_CONTROL, embedding_wanted=True)

    assert missed.outcome is Outcome.MISS
    assert len(missed.question_embedding) == EMBEDDING_DIMENSIONS * 4
    assert model.texts == ["Summarize ticket 59120 in two lines"]


def test_the_identifiers_of_a_question_are_its_gate_entities_with_digits_found_as_the_gate_finds_them() -> None:
    assert identifiers("Is GPT-4o better than Claude for ticket A12-b34 in Q3 2024?") == ("gpt-4o", "a12-b34", "q3")
    assert identifiers("How do I reset my password?") == ()
    assert identifier_forms("Compare the r2d2s with C3PO") == frozenset({"r2d2s", "r2d2", "c3po"})
    assert may_mention("r2d2", identifier_forms("the r2d2s")) and may_mention("r2d2s", identifier_forms("one r2d2"))
    assert not may_mention("c3po", identifier_forms("the r2d2s"))


def test_every_labelled_pair_the_gate_could_accept_shares_its_match_key() -> None:
    """The key only ever rules out what the gate refuses: over the cache's labelled pairs, a pair the gate accepts
    at any similarity has one key (and the pairs with different keys are all refused)."""
    gate = QuestionGate()
    pairs = [json.loads(line) for line in PAIRS.read_text().splitlines() if line.strip()]
    accepted = [pair for pair in pairs if gate.difference(pair["a"], pair["b"], 1.0) is None]
    assert len(accepted) > 100
    for pair in accepted:
        assert match_key(pair["a"]) == match_key(pair["b"]), pair
    ruled_out = [pair for pair in pairs if match_key(pair["a"]) != match_key(pair["b"])]
    assert ruled_out and all(gate.difference(pair["a"], pair["b"], 1.0) is not None for pair in ruled_out)


def test_every_labelled_pair_the_gate_could_accept_mentions_each_others_identifiers() -> None:
    """Identifiers only ever rule out what the gate refuses: over the labelled pairs, and pairs made to differ only
    in an identifier, a pair the gate accepts at any similarity mentions each side's identifiers."""
    gate = QuestionGate()
    pairs = [(pair["a"], pair["b"]) for pair in map(json.loads, PAIRS.read_text().splitlines())]
    pairs += [
        ("Status of order A12B3?", "Status of order a12b3"),
        ("What changed in v2.3-beta builds?", "What changed in the v2.3-beta build?"),
        ("Restart node n7 in rack r2", "Restart node n8 in rack r2"),
        ("Is model gpt-4o cheaper?", "Is the gpt-4o model cheaper?"),
    ]
    accepted = [(a, b) for a, b in pairs if gate.difference(a, b, 1.0) is None]
    assert len(accepted) > 100
    for a, b in accepted:
        assert all(may_mention(identifier, identifier_forms(b)) for identifier in identifiers(a)), (a, b)
        assert all(may_mention(identifier, identifier_forms(a)) for identifier in identifiers(b)), (a, b)
    ruled_out = [(a, b) for a, b in pairs if not all(may_mention(each, identifier_forms(b)) for each in identifiers(a))]
    assert ruled_out and all(gate.difference(a, b, 1.0) is not None for a, b in ruled_out)


def test_a_match_key_is_the_gates_negations_and_numbers_worked_out_without_its_other_features() -> None:
    """A replica loading a tenant works out a key per stored question: the key must be what the gate compares,
    at a fraction of the cost of all its features (10,000 keys: 69 ms instead of 500 here)."""
    questions = sorted({pair[side] for pair in map(json.loads, PAIRS.read_text().splitlines()) for side in "ab"})
    gate_module._features.cache_clear()
    keys = [match_key(question) for question in questions]
    assert gate_module._features.cache_info().misses == 0
    for question, key in zip(questions, keys, strict=True):
        features = gate_module._features(question)
        # The gate compares the numbers in order; the key counts them (equal keys are necessary, not enough).
        assert key == (features.negations, tuple(sorted(Counter(features.numbers).items()))), question
        assert index_keys(question) == (key, identifier_forms(question))  # what a partition counts, in one pass


def _record(question: str) -> SemanticRecord:
    return SemanticRecord(b"p" * 16, 10**13, np.ones(EMBEDDING_DIMENSIONS, dtype=np.float32), question)


def test_a_partition_counts_its_questions_match_keys_through_puts_replacements_and_removals() -> None:
    index = PartitionIndex()
    index.put("a", _record("Order 7 status"))
    index.put("b", _record("Order 7 status please"))
    index.put("c", _record("Order 9 status"))
    assert index.may_match(match_key("Where is order 7?"))

    index.put("c", _record("Order 8 status"))  # the same entry, stored again with another question
    assert not index.may_match(match_key("order 9")) and index.may_match(match_key("order 8"))

    index.remove("a")  # the last row ("c") moves into its place
    assert index.may_match(match_key("order 7")) and index.may_match(match_key("order 8"))
    index.remove("b")
    assert not index.may_match(match_key("order 7"))
    index.remove("c")
    assert not index.may_match(match_key("order 8")) and not index.may_match(match_key("no numbers here"))


def test_a_partition_counts_the_identifiers_its_questions_mention_through_replacements_and_removals() -> None:
    index = PartitionIndex()
    key = match_key("Summarize ticket AB-12x")
    index.put("a", _record("Summarize ticket ab-12x"))
    index.put("b", _record("Summarize tickets ab-12x and cd-34y"))
    assert index.may_match(key, identifiers("Summarize ticket AB-12x"))
    assert not index.may_match(key, identifiers("Summarize ticket EF-56z"))

    index.put("b", _record("Summarize ticket ef-56z"))  # stored again with another question: cd-34y is gone
    assert index.may_match(key, identifiers("Summarize CD-34y and EF-56z")) is False
    assert index.may_match(key, identifiers("Summarize EF-56z"))
    index.remove("a")
    assert not index.may_match(key, identifiers("Summarize AB-12x"))
    assert index.may_match(key, ())
