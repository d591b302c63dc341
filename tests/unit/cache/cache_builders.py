"""Builders shared by the cache's domain tests: requests, answers, a clock the test moves, a service over Redis."""

from __future__ import annotations

import numpy as np
import redis.asyncio as aioredis

from sluicegate.cache.v1 import cache_pb2
from sluicegate.common.v1 import chat_pb2
from sluicegate.embedding import SentenceEmbedder
from sluicegate_cache.counters import HitCounters
from sluicegate_cache.exact import ExactCache
from sluicegate_cache.policy import StorePolicy
from sluicegate_cache.questions import QuestionLimits, minilm_token_ids
from sluicegate_cache.replica import ReplicaIndex
from sluicegate_cache.semantic import SemanticCache, embed_off_loop
from sluicegate_cache.service import CacheService
from sluicegate_cache.thresholds import TenantThresholds

MAX_ENTRIES = 3
POLICY = StorePolicy(default_ttl_seconds=3600, max_ttl_seconds=7200, max_bytes_per_entry=4096, max_temperature=1.0)


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_service(redis: aioredis.Redis, clock) -> CacheService:
    return CacheService(ExactCache(redis, MAX_ENTRIES), HitCounters(redis), POLICY, clock=clock)


def request_key(text: str = "What is a sluice gate?", tenant: str = "acme", **params) -> cache_pb2.CacheKey:
    return cache_pb2.CacheKey(
        tenant_id=tenant,
        model="balanced",
        messages=[chat_pb2.Message(role=chat_pb2.ROLE_USER, content=[chat_pb2.ContentPart(text=text)])],
        params=chat_pb2.GenerationParams(**params),
    )


def answer(
    text: str = "A gate that controls water flow.", finish=chat_pb2.FINISH_REASON_STOP
) -> cache_pb2.CachedAnswer:
    return cache_pb2.CachedAnswer(text=text, model="balanced", finish_reason=finish, cost_micros_usd=120)


class CountingEmbedder:
    """The real model, remembering what it was asked to embed."""

    def __init__(self, model: SentenceEmbedder) -> None:
        self._model = model
        self.texts: list[str] = []

    def embed_one(self, text: str) -> np.ndarray:
        self.texts.append(text)
        return self._model.embed_one(text)


def semantic_layer(
    redis: aioredis.Redis,
    clock,
    embedder: SentenceEmbedder,
    entries: ExactCache,
    floors: dict[str, float] | None = None,
    max_question_words: int = 40,
    max_question_chars: int = 320,
) -> tuple[SemanticCache, ReplicaIndex]:
    """A semantic layer (threshold 0.86, the service default) and the replica index it reads; the caller runs
    `replica.run()` for as long as the layer is used."""
    replica = ReplicaIndex(redis, check_interval_seconds=0.2, clock=clock)
    layer = SemanticCache(
        entries,
        replica,
        embed_off_loop(embedder),
        TenantThresholds(0.86, floors or {}),
        question_limits(max_question_words, max_question_chars),
    )
    return layer, replica


def question_limits(max_words: int = 40, max_chars: int = 320) -> QuestionLimits:
    """The service's question limits with the embedding model's tokenizer."""
    token_ids, unknown_id = minilm_token_ids()
    return QuestionLimits(token_ids, unknown_id, max_words=max_words, max_chars=max_chars)


def conversation(*turns: str, tenant: str = "acme", system: str = "You are concise.") -> cache_pb2.CacheKey:
    """A request whose messages alternate user and assistant turns after a system prompt (the last is the user's)."""
    roles = [chat_pb2.ROLE_USER, chat_pb2.ROLE_ASSISTANT]
    messages = [chat_pb2.Message(role=chat_pb2.ROLE_SYSTEM, content=[chat_pb2.ContentPart(text=system)])]
    messages += [
        chat_pb2.Message(role=roles[index % 2], content=[chat_pb2.ContentPart(text=text)])
        for index, text in enumerate(turns)
    ]
    return cache_pb2.CacheKey(
        tenant_id=tenant, model="balanced", messages=messages, params=chat_pb2.GenerationParams(temperature=0.0)
    )
