"""Review of the shared deployment limits: the token total stays true to the calls in the window."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from pydantic import ValidationError
from redis.crc import key_slot

from sluicegate.catalog import Deployment
from sluicegate.runtime.redis import create_redis
from sluicegate_router.limits import SharedDeploymentLimits, shared_limit_keys

TIMEOUT_SECONDS = 0.5
LIMITED = Deployment(name="d-limited", litellm_model="openai/mock-fast", rpm=10, tpm=100)


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    redis_client = create_redis(redis_url, timeout_seconds=TIMEOUT_SECONDS)
    yield redis_client
    await redis_client.aclose()


async def test_a_token_total_lost_while_calls_remain_is_not_restarted_from_zero(client, clock) -> None:
    start = clock.now
    limits = SharedDeploymentLimits(client, TIMEOUT_SECONDS, clock=clock)
    for second in (0, 10, 20):
        clock.now = start + second
        assert await limits.admit(LIMITED, 30) is None
    # Both keys carry a TTL, so a Redis at maxmemory may evict the total alone.
    await client.delete(shared_limit_keys(LIMITED.name)[1])

    clock.now = start + 30
    assert await limits.admit(LIMITED, 30) == pytest.approx(30.0), "90 tokens are in the window: 30 more do not fit"
    clock.now = start + 65  # the call of second 0 has left: 60 tokens held, not fewer
    assert await limits.admit(LIMITED, 50) == pytest.approx(5.0)
    assert await limits.admit(LIMITED, 50) == pytest.approx(5.0), "the refusal did not count the call"


async def test_a_retried_admit_of_one_call_counts_it_once(client, clock) -> None:
    # redis-py retries a command after a connection error by default: the script may run twice for one call.
    limits = SharedDeploymentLimits(client, TIMEOUT_SECONDS, clock=clock)
    keys = shared_limit_keys(LIMITED.name)
    args = limits._args(LIMITED, 30)
    for _ in range(2):
        assert await limits._script(keys=keys, args=args) == -1
    assert int(await client.get(keys[1])) == 30
    assert await limits.admit(LIMITED, 70) is None, "the window holds 30 tokens, so 70 more fit"


@pytest.mark.parametrize("name", ["}odd", "a{b}c", "two words", ""])
def test_the_catalog_refuses_deployment_names_that_would_split_the_shared_keys(name: str) -> None:
    # A name beginning with '}' makes an empty hash tag: the two keys would hash apart and the script's two-key call
    # would fail with CROSSSLOT on a Redis Cluster. Such names never get past the catalog.
    with pytest.raises(ValidationError):
        Deployment(name=name, litellm_model="openai/gpt-4o-mini")


def test_a_valid_deployment_names_keys_share_one_cluster_slot() -> None:
    calls, tokens = shared_limit_keys("openai-gpt-4o.eu_west")
    assert key_slot(calls.encode()) == key_slot(tokens.encode())
