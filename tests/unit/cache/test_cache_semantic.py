"""The semantic layer over a real Redis and the real embedding model: paraphrase hits, tenant and context
isolation, the gate, thresholds and controls, stats, expiry and eviction."""

from __future__ import annotations

import pytest
from cache_builders import answer, conversation

from sluicegate.common.v1 import chat_pb2
from sluicegate_cache.results import Outcome

STORED = "How do I reset my password?"
PARAPHRASE = "How can I reset my password?"
NO_CONTROL = chat_pb2.CacheControl()


async def test_a_paraphrase_is_a_semantic_hit_with_similarity_and_age(semantic):
    stored = await semantic.service.store(conversation(STORED), NO_CONTROL, answer("Use the reset link."), False)
    semantic.clock.advance(30)

    hit = await semantic.service.lookup(conversation(PARAPHRASE), NO_CONTROL)

    assert hit.outcome is Outcome.HIT_SEMANTIC
    assert hit.entry_id == stored.entry_id
    assert 0.86 <= hit.similarity < 1.0
    assert hit.age_seconds == 30
    assert hit.answer.text == "Use the reset link."
    exact = await semantic.service.lookup(conversation(STORED), NO_CONTROL)
    assert (exact.outcome, exact.similarity) == (Outcome.HIT_EXACT, 1.0)


async def test_another_tenant_never_hits_with_the_same_or_a_paraphrased_prompt(semantic):
    await semantic.service.store(conversation(STORED), NO_CONTROL, answer(), False)

    for text in (STORED, PARAPHRASE, "how do i reset my password"):
        result = await semantic.service.lookup(conversation(text, tenant="globex"), NO_CONTROL)
        assert result.outcome is Outcome.MISS
    assert (await semantic.service.lookup(conversation(PARAPHRASE), NO_CONTROL)).outcome is Outcome.HIT_SEMANTIC


@pytest.mark.parametrize(
    ("stored", "asked"),
    [
        ("Is ibuprofen safe to take during pregnancy?", "Is ibuprofen unsafe to take during pregnancy?"),
        ("Is ibuprofen safe to take during pregnancy?", "Is ibuprofen not safe to take during pregnancy?"),
        ("What was the GDP of Germany in 2022?", "What was the GDP of Germany in 2023?"),
        ("What is the weather in Paris tomorrow?", "What is the weather in London tomorrow?"),
        ("How do I install Python on Windows?", "How do I uninstall Python on Windows?"),
        ("Is Rust faster than Go?", "Is Go faster than Rust?"),
        ("is 5 greater than 3", "is 3 greater than 5"),
        ("flights from paris to london", "flights from london to paris"),
        ("convert 5 km to miles", "convert 5 miles to km"),
        ("does smoking cause stress", "does stress cause smoking"),
        ("Convert -40 degrees to fahrenheit", "Convert 40 degrees to fahrenheit"),
        ("What is 12 * 3?", "What is 12 + 3?"),
    ],
)
async def test_near_misses_above_the_threshold_are_refused_by_the_gate(semantic, stored, asked):
    await semantic.service.store(conversation(stored), NO_CONTROL, answer(), False)
    assert (await semantic.service.lookup(conversation(asked), NO_CONTROL)).outcome is Outcome.MISS


async def test_multi_turn_hits_only_when_the_earlier_context_is_identical(semantic):
    earlier = ("We are talking about the staff portal.", "Sure, what do you need?")
    await semantic.service.store(conversation(*earlier, STORED), NO_CONTROL, answer(), False)

    same_context = await semantic.service.lookup(conversation(*earlier, PARAPHRASE), NO_CONTROL)
    other_context = await semantic.service.lookup(
        conversation("We are talking about the customer app.", "Sure, what do you need?", PARAPHRASE), NO_CONTROL
    )
    other_system = await semantic.service.lookup(conversation(*earlier, PARAPHRASE, system="Be verbose."), NO_CONTROL)

    assert same_context.outcome is Outcome.HIT_SEMANTIC
    assert other_context.outcome is Outcome.MISS
    assert other_system.outcome is Outcome.MISS


async def test_parameter_class_and_namespace_partition_the_semantic_layer(semantic):
    await semantic.service.store(conversation(STORED), NO_CONTROL, answer(), False)
    hot = conversation(PARAPHRASE)
    hot.params.temperature = 0.9
    json_answer = conversation(PARAPHRASE)
    json_answer.params.response_format = chat_pb2.RESPONSE_FORMAT_JSON_OBJECT

    assert (await semantic.service.lookup(hot, NO_CONTROL)).outcome is Outcome.MISS
    assert (await semantic.service.lookup(json_answer, NO_CONTROL)).outcome is Outcome.MISS
    in_namespace = chat_pb2.CacheControl(namespace="support")
    assert (await semantic.service.lookup(conversation(PARAPHRASE), in_namespace)).outcome is Outcome.MISS


async def test_semantic_disabled_and_a_raised_threshold_skip_near_hits(semantic):
    await semantic.service.store(conversation(STORED), NO_CONTROL, answer(), False)
    disabled = chat_pb2.CacheControl(semantic_disabled=True)
    raised = chat_pb2.CacheControl(min_similarity=0.999)
    lowered = chat_pb2.CacheControl(min_similarity=0.1)

    assert (await semantic.service.lookup(conversation(PARAPHRASE), disabled)).outcome is Outcome.MISS
    assert (await semantic.service.lookup(conversation(STORED), disabled)).outcome is Outcome.HIT_EXACT
    assert (await semantic.service.lookup(conversation(PARAPHRASE), raised)).outcome is Outcome.MISS
    assert (await semantic.service.lookup(conversation(PARAPHRASE), lowered)).outcome is Outcome.HIT_SEMANTIC


async def test_a_request_cannot_lower_its_tenants_floor(semantic):
    # Tenant "strict" has a floor of 0.97, above this paraphrase's similarity (about 0.95).
    paraphrase = "What are the steps to reset my password?"
    for tenant in ("acme", "strict"):
        await semantic.service.store(conversation(STORED, tenant=tenant), NO_CONTROL, answer(), False)
    lowered = chat_pb2.CacheControl(min_similarity=0.5)
    assert (await semantic.service.lookup(conversation(paraphrase), lowered)).outcome is Outcome.HIT_SEMANTIC
    result = await semantic.service.lookup(conversation(paraphrase, tenant="strict"), lowered)
    assert result.outcome is Outcome.MISS


async def test_stats_count_semantic_hits_and_their_mean_similarity(semantic):
    await semantic.service.store(conversation(STORED), NO_CONTROL, answer(), False)
    first = await semantic.service.lookup(conversation(PARAPHRASE), NO_CONTROL)
    second = await semantic.service.lookup(conversation("What are the steps to reset my password?"), NO_CONTROL)
    await semantic.service.lookup(conversation("Who wrote Pride and Prejudice?"), NO_CONTROL)

    stats = await semantic.service.stats("acme")

    assert (stats.exact_hits, stats.semantic_hits, stats.misses) == (0, 2, 1)
    assert stats.mean_semantic_similarity == pytest.approx((first.similarity + second.similarity) / 2)


async def test_expired_and_invalidated_entries_are_no_longer_near_hits(semantic):
    await semantic.service.store(conversation(STORED), chat_pb2.CacheControl(ttl_seconds=5), answer(), False)
    semantic.clock.advance(6)
    assert (await semantic.service.lookup(conversation(PARAPHRASE), NO_CONTROL)).outcome is Outcome.MISS

    await semantic.service.store(conversation(STORED), NO_CONTROL, answer(), False)
    assert (await semantic.service.lookup(conversation(PARAPHRASE), NO_CONTROL)).outcome is Outcome.HIT_SEMANTIC
    assert await semantic.service.invalidate("acme", "", "") == 1
    assert (await semantic.service.lookup(conversation(PARAPHRASE), NO_CONTROL)).outcome is Outcome.MISS
    assert await semantic.redis.hlen("sg:cache:{acme}:vec") == 0


def test_the_embedding_model_is_part_of_the_partition(monkeypatch) -> None:
    from sluicegate_cache import subject

    before = subject.subject_of(conversation(STORED), "")
    monkeypatch.setattr(subject, "MODEL_ID", "another-model/1")
    after = subject.subject_of(conversation(STORED), "")
    # Vectors of two models are never compared: the same question lands in another partition.
    assert before.question == after.question and before.partition != after.partition
