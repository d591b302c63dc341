"""Which questions the semantic layer compares: a question the model would cut, or one the correctness gate cannot
read (another script, accents, a token the model does not know), is left to the exact layer, never embedded and
never written into a semantic record."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from cache_builders import POLICY, CountingEmbedder, FakeClock, answer, conversation, question_limits, semantic_layer

from sluicegate.common.v1 import chat_pb2
from sluicegate.embedding import SentenceEmbedder
from sluicegate_cache.counters import HitCounters
from sluicegate_cache.exact import ExactCache
from sluicegate_cache.layout import TenantKeys
from sluicegate_cache.questions import EMBEDDING_MAX_TOKENS
from sluicegate_cache.results import Outcome
from sluicegate_cache.service import CacheService

NO_CONTROL = chat_pb2.CacheControl()
CSV_HEADER = ",".join(f"column_{index:03d}_active" for index in range(100))  # 1,799 characters, no space
CHINESE_REPORT = "本季度公司的财务报告显示，" * 20 + "其中包括收入、支出、利润以及现金流等多个方面的详细情况。"


@pytest.fixture
async def counted(redis: aioredis.Redis, embedder: SentenceEmbedder) -> AsyncIterator[tuple[CacheService, list[str]]]:
    """A service with exact and semantic layers, and the texts its model was asked to embed."""
    clock = FakeClock()
    model = CountingEmbedder(embedder)
    entries = ExactCache(redis, 50)
    layer, replica = semantic_layer(redis, clock, model, entries)
    following = asyncio.ensure_future(replica.run())
    yield CacheService(entries, HitCounters(redis), POLICY, clock=clock, semantic=layer), model.texts
    following.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await following


@pytest.mark.parametrize(
    ("stored", "asked"),
    [
        ("如何启用双因素认证？", "如何禁用双因素认证？"),
        ("Как включить двухфакторную аутентификацию?", "Как отключить двухфакторную аутентификацию?"),
        ("Безопасно ли есть сырые яйца?", "Опасно ли есть сырые яйца?"),
        ("Is the café open on Sunday?", "Is the café closed on Sunday?"),
    ],
)
async def test_a_question_the_gate_cannot_read_is_exact_only(counted, stored, asked) -> None:
    service, embedded = counted
    await service.store(conversation(stored), NO_CONTROL, answer(), guard_flagged=False)
    assert (await service.lookup(conversation(asked), NO_CONTROL)).outcome is Outcome.MISS
    assert (await service.lookup(conversation(stored), NO_CONTROL)).outcome is Outcome.HIT_EXACT
    assert embedded == []


@pytest.mark.parametrize(
    ("stored", "asked"),
    [
        # The model reads 256 tokens: these differ only after the cut.
        (f"{CSV_HEADER} please sort the columns by name", f"{CSV_HEADER} please sort the columns by length"),
        (CHINESE_REPORT + "请用一句话总结上文。", CHINESE_REPORT + "请把上文翻译成英文。"),
        # Under 320 characters and 40 words, but more tokens than the model reads.
        ("Is this valid? " + "<>" * 140 + " yes", "Is this valid? " + "<>" * 140 + " no"),
        # A word the vocabulary cannot spell is one [UNK]: the two embed alike.
        ("Decode the token " + "ab" * 60, "Decode the token " + "cd" * 60),
    ],
)
async def test_a_question_the_model_would_not_see_whole_is_exact_only(counted, stored, asked) -> None:
    service, embedded = counted
    await service.store(conversation(stored), NO_CONTROL, answer(), guard_flagged=False)
    assert (await service.lookup(conversation(asked), NO_CONTROL)).outcome is Outcome.MISS
    assert embedded == []


async def test_a_huge_question_without_spaces_is_never_embedded_nor_put_in_a_record(counted, redis) -> None:
    service, embedded = counted
    huge = "summarise " + "x" * 200_000
    stored = await service.store(conversation(huge), NO_CONTROL, answer(), guard_flagged=False)
    assert stored.stored
    assert await redis.hlen(TenantKeys("acme").vectors) == 0
    assert (await service.lookup(conversation(huge), NO_CONTROL)).outcome is Outcome.HIT_EXACT
    missed = await service.lookup(conversation(huge + "y"), NO_CONTROL, embedding_wanted=True)
    assert missed.outcome is Outcome.MISS
    # A caller that wants an embedding gets its opening's, cut to the character limit.
    assert len(missed.question_embedding) == 384 * 4
    assert embedded and all(len(text) <= 320 for text in embedded)


async def test_a_short_english_question_is_still_compared(counted) -> None:
    service, _ = counted
    await service.store(conversation("How do I reset my password?"), NO_CONTROL, answer(), guard_flagged=False)
    hit = await service.lookup(conversation("How can I reset my password?"), NO_CONTROL)
    assert hit.outcome is Outcome.HIT_SEMANTIC


def test_the_limits_follow_the_text_the_model_reads() -> None:
    limits = question_limits()
    assert limits.comparable("What’s the weather like – today?")  # typographic quotes and dashes are read
    assert limits.comparable("Is x ≤ 5 when x is 3?")
    assert not limits.comparable("What is a crème brûlée?")
    assert not limits.comparable("x" * 321)
    assert not limits.comparable(" ".join(["word"] * 41))
    assert limits.fits_model("How do I reset my password?")
    assert not limits.fits_model("?" * 300)
    assert not limits.fits_model("what is " + "q" * 120)
    # The model's limit is the embedder's, as the service builds it.
    assert inspect.signature(SentenceEmbedder).parameters["max_tokens"].default == EMBEDDING_MAX_TOKENS
