"""The idempotency store on its own: claiming, waiting for the first attempt, conflicts, giving a key back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest

from sluicegate.gateway.v1 import gateway_pb2
from sluicegate.runtime.errors import ServiceError
from sluicegate.runtime.redis import create_redis
from sluicegate_orchestrator.idempotency import IdempotencyStore

FIRST_ANSWER = gateway_pb2.ChatResponse(model="balanced")


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[IdempotencyStore]:
    redis = create_redis(redis_url)
    yield IdempotencyStore(redis, ttl_seconds=60, poll_seconds=0.01)
    await redis.aclose()


async def test_the_first_claim_owns_the_key_and_a_later_one_waits_for_its_answer(store: IdempotencyStore) -> None:
    assert await store.claim("acme", "order-17", "fp-1", wait_seconds=1.0) is None
    waiting = asyncio.ensure_future(store.claim("acme", "order-17", "fp-1", wait_seconds=2.0))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await store.complete("acme", "order-17", FIRST_ANSWER)
    assert await asyncio.wait_for(waiting, 2) == FIRST_ANSWER
    assert await store.claim("acme", "order-17", "fp-1", wait_seconds=0.0) == FIRST_ANSWER


async def test_a_key_still_in_progress_is_refused_once_the_wait_runs_out(store: IdempotencyStore) -> None:
    assert await store.claim("acme", "k", "fp-1", wait_seconds=1.0) is None
    with pytest.raises(ServiceError) as caught:
        await store.claim("acme", "k", "fp-1", wait_seconds=0.05)
    assert caught.value.code == grpc.StatusCode.ABORTED and caught.value.reason == "IDEMPOTENCY_CONFLICT"


async def test_a_key_reused_for_another_request_is_a_conflict_at_once(store: IdempotencyStore) -> None:
    assert await store.claim("acme", "k", "fp-1", wait_seconds=1.0) is None
    with pytest.raises(ServiceError) as caught:
        await store.claim("acme", "k", "fp-2", wait_seconds=5.0)
    assert caught.value.code == grpc.StatusCode.ALREADY_EXISTS


async def test_a_key_given_back_is_claimed_by_the_next_attempt_and_keys_are_per_tenant(
    store: IdempotencyStore,
) -> None:
    assert await store.claim("acme", "k", "fp-1", wait_seconds=1.0) is None
    assert await store.claim("globex", "k", "fp-2", wait_seconds=1.0) is None  # another tenant's key
    waiting = asyncio.ensure_future(store.claim("acme", "k", "fp-1", wait_seconds=2.0))
    await asyncio.sleep(0.05)
    await store.abandon("acme", "k")
    assert await asyncio.wait_for(waiting, 2) is None  # the waiter took the key over


async def test_the_claim_writes_the_fingerprint_with_the_same_ttl(store: IdempotencyStore, redis_url: str) -> None:
    assert await store.claim("acme", "k", "fp-1", wait_seconds=1.0) is None
    reader = create_redis(redis_url)
    state_key, fingerprint_key = IdempotencyStore._keys("acme", "k")
    assert await reader.get(fingerprint_key) == b"fp-1"
    assert 0 < await reader.ttl(fingerprint_key) <= 60 and 0 < await reader.ttl(state_key) <= 60
    await reader.aclose()
