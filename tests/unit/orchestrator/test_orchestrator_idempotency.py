"""The idempotency store on its own: claiming, waiting for the first attempt, conflicts, giving a key back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest

from sluicegate.common.v1 import chat_pb2
from sluicegate.gateway.v1 import gateway_pb2
from sluicegate.runtime.errors import ServiceError
from sluicegate.runtime.redis import create_redis
from sluicegate_orchestrator.idempotency import IdempotencyStore, request_fingerprint

FIRST_ANSWER = gateway_pb2.ChatResponse(model="balanced")


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[IdempotencyStore]:
    redis = create_redis(redis_url)
    yield IdempotencyStore(redis, ttl_seconds=600, pending_seconds=60, poll_seconds=0.01)
    await redis.aclose()


async def test_the_first_claim_owns_the_key_and_a_later_one_waits_for_its_answer(store: IdempotencyStore) -> None:
    assert await store.claim("acme", "order-17", "fp-1", wait_seconds=1.0, token="t1") is None
    waiting = asyncio.ensure_future(store.claim("acme", "order-17", "fp-1", wait_seconds=2.0, token="t2"))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await store.complete("acme", "order-17", FIRST_ANSWER)
    assert await asyncio.wait_for(waiting, 2) == FIRST_ANSWER
    assert await store.claim("acme", "order-17", "fp-1", wait_seconds=0.0, token="t3") == FIRST_ANSWER


async def test_a_key_still_in_progress_is_refused_once_the_wait_runs_out(store: IdempotencyStore) -> None:
    assert await store.claim("acme", "k", "fp-1", wait_seconds=1.0, token="t1") is None
    with pytest.raises(ServiceError) as caught:
        await store.claim("acme", "k", "fp-1", wait_seconds=0.05, token="t2")
    assert caught.value.code == grpc.StatusCode.ABORTED and caught.value.reason == "IDEMPOTENCY_CONFLICT"


async def test_a_key_reused_for_another_request_is_a_conflict_at_once(store: IdempotencyStore) -> None:
    assert await store.claim("acme", "k", "fp-1", wait_seconds=1.0, token="t1") is None
    with pytest.raises(ServiceError) as caught:
        await store.claim("acme", "k", "fp-2", wait_seconds=5.0, token="t2")
    assert caught.value.code == grpc.StatusCode.ALREADY_EXISTS


async def test_a_key_given_back_is_claimed_by_the_next_attempt_and_keys_are_per_tenant(
    store: IdempotencyStore,
) -> None:
    assert await store.claim("acme", "k", "fp-1", wait_seconds=1.0, token="t1") is None
    assert await store.claim("globex", "k", "fp-2", wait_seconds=1.0, token="t3") is None  # another tenant's key
    waiting = asyncio.ensure_future(store.claim("acme", "k", "fp-1", wait_seconds=2.0, token="t2"))
    await asyncio.sleep(0.05)
    assert await store.abandon("acme", "k", "t1")
    assert await asyncio.wait_for(waiting, 2) is None  # the waiter took the key over
    assert not await store.abandon("acme", "k", "t1")  # the first attempt cannot give back the waiter's claim


async def test_a_claim_lives_as_long_as_a_request_and_an_answer_for_the_answers_ttl(
    store: IdempotencyStore, redis_url: str
) -> None:
    # A process that dies mid-request leaves its key locked for the pending time, not the answers' day.
    assert await store.claim("acme", "k", "fp-1", wait_seconds=1.0, token="t1") is None
    reader = create_redis(redis_url)
    state_key, fingerprint_key = IdempotencyStore._keys("acme", "k")
    assert await reader.get(fingerprint_key) == b"fp-1"
    assert 0 < await reader.ttl(fingerprint_key) <= 60 and 0 < await reader.ttl(state_key) <= 60
    await store.complete("acme", "k", FIRST_ANSWER)
    assert 60 < await reader.ttl(fingerprint_key) <= 600 and 60 < await reader.ttl(state_key) <= 600
    assert not await store.abandon("acme", "k", "t1")  # an answer is never given back
    assert await store.claim("acme", "k", "fp-1", wait_seconds=0.0, token="t2") == FIRST_ANSWER
    await reader.aclose()


def test_the_fingerprint_covers_the_cache_control() -> None:
    # The same key with another namespace (or no_cache) is another request, not a replay of the first.
    first = gateway_pb2.ChatRequest(model="balanced", cache=chat_pb2.CacheControl(namespace="a"))
    other = gateway_pb2.ChatRequest(model="balanced", cache=chat_pb2.CacheControl(namespace="b"))
    assert request_fingerprint(first) != request_fingerprint(other)
    assert request_fingerprint(first) == request_fingerprint(
        gateway_pb2.ChatRequest(model="balanced", cache=first.cache)
    )
