"""Deployment rpm / tpm limits kept in Redis: two limiters on one Redis (two router replicas) share the counts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from sluicegate.catalog import Deployment
from sluicegate.devstack.processes import free_port
from sluicegate.runtime.redis import create_redis
from sluicegate_router.limits import SharedDeploymentLimits, shared_limit_keys

# Redis that is down or silent must fail fast; the tests of what a live Redis counts get room, so that a loaded CI
# machine (40 admits opening their connections at once) does not turn a slow answer into the local fallback.
TIMEOUT_SECONDS = 0.5
LIVE_TIMEOUT_SECONDS = 5.0


def deployment(rpm: int = 0, tpm: int = 0) -> Deployment:
    return Deployment(name="d-limited", litellm_model="openai/mock-fast", rpm=rpm, tpm=tpm)


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    redis_client = create_redis(redis_url, timeout_seconds=LIVE_TIMEOUT_SECONDS)
    yield redis_client
    await redis_client.aclose()


def replicas(client: aioredis.Redis, clock: Callable[[], float] | None = None) -> tuple[SharedDeploymentLimits, ...]:
    return tuple(SharedDeploymentLimits(client, LIVE_TIMEOUT_SECONDS, clock=clock) for _ in range(2))


async def test_two_replicas_together_admit_at_most_rpm_calls_in_any_minute(client, clock) -> None:
    start = clock.now
    a, b = replicas(client, clock)
    limited = deployment(rpm=5)

    admitted = []
    for second in range(0, 60, 3):  # 20 calls over the minute, alternating replicas
        clock.now = start + second
        if await (a if second % 2 else b).admit(limited, 1) is None:
            admitted.append(second)
    assert admitted == [0, 3, 6, 9, 12], "the first five calls fit, whichever replica took them"

    clock.now = start + 60.5
    assert await a.admit(limited, 1) is None, "the call of second 0 has left the window"
    assert await b.admit(limited, 1) == pytest.approx(2.5), "the next frees when the call of second 3 leaves"


async def test_concurrent_admits_on_two_replicas_are_counted_atomically_on_redis_time(client) -> None:
    a, b = replicas(client)
    limited = deployment(rpm=7, tpm=1_000)

    waits = await asyncio.gather(*(replica.admit(limited, 10) for _ in range(20) for replica in (a, b)))

    assert sum(wait is None for wait in waits) == 7
    assert all(0 < wait <= 60 for wait in waits if wait is not None)


async def test_two_replicas_together_admit_at_most_tpm_tokens_and_say_when_enough_leave(client, clock) -> None:
    start = clock.now
    a, b = replicas(client, clock)
    limited = deployment(tpm=100)

    for second, replica in ((0, a), (10, b), (20, a)):
        clock.now = start + second
        assert await replica.admit(limited, 30) is None
    clock.now = start + 30
    assert await b.admit(limited, 30) == pytest.approx(30.0), "the call of second 0 frees enough at 60 s"
    assert await a.admit(limited, 50) == pytest.approx(40.0), "50 tokens need the calls of seconds 0 and 10 gone"
    assert await b.admit(limited, 10) is None, "a call that still fits goes through"
    assert await a.admit(limited, 1) is not None, "100 tokens are counted: not one more fits"


async def test_a_refusal_always_waits_more_than_zero_and_at_most_a_minute(client, clock) -> None:
    start = clock.now
    a, b = replicas(client, clock)

    assert await a.admit(deployment(rpm=1), 1) is None
    clock.now = start + 59.9999
    assert 0 < await b.admit(deployment(rpm=1), 1) <= 0.001, "a refusal just before the call leaves is not 0"
    assert await a.admit(deployment(tpm=100), 101) == 60.0, "a call larger than the limit never fits: the longest"


async def test_the_limit_keys_expire_a_second_after_the_window(client, clock) -> None:
    a, b = replicas(client, clock)
    limited = deployment(rpm=1, tpm=100)

    assert await a.admit(limited, 40) is None
    clock.now += 61
    assert await b.admit(limited, 40) is None

    keys = shared_limit_keys(limited.name)
    assert sorted(await client.keys("sg:router:limit:*")) == sorted(key.encode() for key in keys)
    assert keys[0].startswith("sg:router:limit:{d-limited}:")
    for key in keys:
        assert 60_000 < await client.pttl(key) <= 61_000
    assert await client.zcard(keys[0]) == 1, "the call that left the window is gone"
    assert int(await client.get(keys[1])) == 40


async def test_unlimited_deployments_touch_no_redis(client) -> None:
    a, _ = replicas(client)

    assert await a.admit(deployment(), 10**9) is None
    assert await client.keys("*") == []


async def test_with_redis_down_each_replica_counts_locally_without_raising_and_warns_once_a_minute(
    capsys, clock
) -> None:
    down = create_redis(f"redis://127.0.0.1:{free_port()}/0", timeout_seconds=TIMEOUT_SECONDS)
    limits = SharedDeploymentLimits(down, TIMEOUT_SECONDS, monotonic=clock)
    try:
        assert await limits.admit(deployment(rpm=2), 1) is None
        clock.now += 2  # Redis is asked again, fails again: no second warning within the minute
        assert await limits.admit(deployment(rpm=2), 1) is None
        assert capsys.readouterr().out.count("deployment limits counted per replica") == 1
        clock.now += 60
        assert await limits.admit(deployment(rpm=2), 1) is not None, "the third call is over this replica's count"
    finally:
        await down.aclose()
    assert capsys.readouterr().out.count("deployment limits counted per replica") == 1, "a minute on: warned again"


async def test_a_redis_that_does_not_answer_in_time_falls_back_to_the_local_count() -> None:
    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    silent = create_redis(f"redis://127.0.0.1:{port}/0", timeout_seconds=5.0)
    limits = SharedDeploymentLimits(silent, timeout_seconds=0.05)
    try:
        async with asyncio.timeout(1.0):
            assert await limits.admit(deployment(rpm=1), 1) is None
            assert await limits.admit(deployment(rpm=1), 1) is not None
    finally:
        await silent.aclose()
        server.close()
