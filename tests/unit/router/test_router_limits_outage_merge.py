"""Calls a router replica counted alone while Redis was down join the shared deployment limits when Redis returns."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis

from sluicegate.catalog import Deployment
from sluicegate.runtime.redis import create_redis
from sluicegate_router.limits import (
    KEY_TTL_MS,
    MERGE_SCRIPT,
    WINDOW_MS,
    DeploymentLimits,
    SharedDeploymentLimits,
    shared_limit_keys,
)

TIMEOUT_SECONDS = 0.2
# Redis's clock (the test clock handed to the limiter) runs far from the replica's monotonic clock: only the calls'
# ages may cross from one to the other.
REDIS_CLOCK_OFFSET_SECONDS = 50_000.0
MERGED_LINE = "calls counted per replica merged into Redis"


def deployment(rpm: int = 0, tpm: int = 0, name: str = "d-limited") -> Deployment:
    return Deployment(name=name, litellm_model="openai/mock-fast", rpm=rpm, tpm=tpm)


class RedisLink:
    """A TCP hop to the test Redis that a test can cut (open connections closed, new ones closed at once, as when
    Redis goes away), restore, or make lose every reply (the command runs, its answer never comes back)."""

    def __init__(self, redis_url: str) -> None:
        target = urlsplit(redis_url)
        self._target = (target.hostname, target.port)
        self._db_path = target.path
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.up = True
        self.replies_lost = False

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return f"redis://127.0.0.1:{self._server.sockets[0].getsockname()[1]}{self._db_path}"

    def cut(self) -> None:
        self.up = False
        self._close_all()

    def restore(self) -> None:
        self.up, self.replies_lost = True, False
        self._close_all()

    def lose_replies(self) -> None:
        self.replies_lost = True

    async def stop(self) -> None:
        self._close_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def _close_all(self) -> None:
        for writer in list(self._writers):
            writer.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.close()
            return
        upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        self._writers |= {writer, upstream_writer}
        try:
            await asyncio.gather(
                self._pipe(reader, upstream_writer, lambda: False),
                self._pipe(upstream_reader, writer, lambda: self.replies_lost),
            )
        finally:
            self._writers -= {writer, upstream_writer}
            writer.close()
            upstream_writer.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, dropping: Callable[[], bool]) -> None:
        with suppress(ConnectionError):
            while data := await reader.read(65536):
                if not dropping():
                    writer.write(data)
                    await writer.drain()
        writer.close()


@pytest.fixture
async def direct(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = create_redis(redis_url, timeout_seconds=1.0)
    yield client
    await client.aclose()


@pytest.fixture
async def link(redis_url: str) -> AsyncIterator[RedisLink]:
    redis_link = RedisLink(redis_url)
    yield redis_link
    await redis_link.stop()


@pytest.fixture
async def linked(link: RedisLink) -> AsyncIterator[aioredis.Redis]:
    client = create_redis(await link.start(), timeout_seconds=TIMEOUT_SECONDS)
    yield client
    await client.aclose()


def replica(client: aioredis.Redis, clock) -> SharedDeploymentLimits:
    """A router replica whose back-off and local counts run on `clock` and whose Redis time runs far from it."""
    return SharedDeploymentLimits(
        client,
        TIMEOUT_SECONDS,
        fallback=DeploymentLimits(clock),
        clock=lambda: clock.now + REDIS_CLOCK_OFFSET_SECONDS,
        monotonic=clock,
    )


async def shared_window(direct: aioredis.Redis, limited: Deployment) -> tuple[int, int]:
    """The calls and tokens the shared window holds for the deployment."""
    calls, tokens = shared_limit_keys(limited.name)
    return await direct.zcard(calls), int(await direct.get(tokens) or 0)


async def test_calls_admitted_locally_in_an_outage_count_against_another_replica_once_redis_returns(
    linked, direct, link, clock
) -> None:
    a, b = replica(linked, clock), replica(direct, clock)
    limited = deployment(rpm=5)

    link.cut()
    for _ in range(3):
        assert await a.admit(limited, 1) is None, "counted locally, never failed"
    link.restore()
    clock.now += 2  # past the back-off: Redis is asked again

    assert await a.admit(limited, 1) is None
    assert [await b.admit(limited, 1) is None for _ in range(3)] == [True, False, False], (
        "3 merged + 1 + 1 reach rpm 5: the other replica admits one call, not four"
    )


async def test_a_merged_call_keeps_its_age_and_leaves_the_shared_window_when_it_would_have(
    linked, direct, link, clock
) -> None:
    start = clock.now
    a, b = replica(linked, clock), replica(direct, clock)
    limited = deployment(rpm=1)

    link.cut()
    assert await a.admit(limited, 1) is None
    link.restore()
    clock.now = start + 50

    assert await a.admit(limited, 1) == pytest.approx(10.0), "the call made 50 s ago leaves in 10 s, not 60"
    clock.now = start + 59.9
    assert await b.admit(limited, 1) == pytest.approx(0.1, abs=0.002)
    clock.now = start + 60
    assert await b.admit(limited, 1) is None


async def test_tokens_counted_locally_are_merged_into_the_shared_token_total(linked, direct, link, clock) -> None:
    a, b = replica(linked, clock), replica(direct, clock)
    limited = deployment(tpm=100)

    link.cut()
    assert await a.admit(limited, 60) is None
    link.restore()
    clock.now += 2

    assert await a.admit(limited, 30) is None
    assert await shared_window(direct, limited) == (2, 90)
    assert await b.admit(limited, 20) == pytest.approx(58.0), "90 tokens held: 20 more fit when the 60 leave"
    assert await b.admit(limited, 10) is None


async def test_calls_that_left_the_window_during_the_outage_are_not_merged(linked, direct, link, clock, capsys) -> None:
    start = clock.now
    a, b = replica(linked, clock), replica(direct, clock)
    limited = deployment(rpm=3, tpm=1_000)

    link.cut()
    assert await a.admit(limited, 100) is None
    clock.now = start + 30
    assert await a.admit(limited, 10) is None
    link.restore()
    clock.now = start + 70  # the first call left the window 10 s ago; the second has 20 s left

    assert await a.admit(limited, 1) is None
    assert await shared_window(direct, limited) == (2, 11)
    assert MERGED_LINE in (out := capsys.readouterr().out) and "calls=1" in out, "one call merged, not two"
    assert await b.admit(limited, 1) is None
    assert await b.admit(limited, 1) == pytest.approx(20.0), "full until the call of second 30 leaves"


async def test_two_admits_after_the_outage_merge_the_local_calls_once(linked, direct, link, clock, capsys) -> None:
    a = replica(linked, clock)
    limited = deployment(rpm=10, tpm=1_000)

    link.cut()
    for _ in range(2):
        assert await a.admit(limited, 10) is None
    link.restore()
    clock.now += 2

    for _ in range(2):
        assert await a.admit(limited, 10) is None
    assert await shared_window(direct, limited) == (4, 40)
    assert capsys.readouterr().out.count(MERGED_LINE) == 1, "the second admit finds nothing left to merge"


async def test_a_merge_command_run_twice_counts_its_calls_once_as_old_as_the_first_time(direct) -> None:
    # redis-py sends a command again after a connection error, and Redis's TIME has moved on by then.
    keys = shared_limit_keys("d-limited")
    calls = ["r1.local0", 30, 20_000, "r1.local1", 40, 5_000, "r1.local2", 50, WINDOW_MS]
    merge = direct.register_script(MERGE_SCRIPT)

    assert await merge(keys=keys, args=[1_000_000, WINDOW_MS, KEY_TTL_MS, *calls]) == 2, "the call 60 s old is not"
    assert await merge(keys=keys, args=[1_002_000, WINDOW_MS, KEY_TTL_MS, *calls]) == 0
    assert await shared_window(direct, deployment()) == (2, 70)
    assert await direct.zscore(keys[0], "r1.local0:30") == 980_000, "scored at its age before Redis's first now"
    for key in keys:
        assert 55_000 < await direct.pttl(key) <= 56_000, "kept until a second after the youngest merged call leaves"


async def test_a_merge_whose_reply_is_lost_is_not_counted_twice_when_sent_again(linked, direct, link, clock) -> None:
    a = replica(linked, clock)
    limited = deployment(rpm=10, tpm=1_000)
    await direct.script_load(MERGE_SCRIPT)  # so the merge itself, not the script's loading, loses its reply

    link.cut()
    assert await a.admit(limited, 25) is None
    link.restore()
    await linked.ping()  # a connection is open, so only the merge's reply is lost, not the handshake's
    link.lose_replies()
    clock.now += 2
    assert await a.admit(limited, 25) is None, "no answer in time: counted locally"
    assert await shared_window(direct, limited) == (1, 25), "the merge ran though its reply was lost"

    link.restore()
    clock.now += 2
    assert await a.admit(limited, 25) is None
    assert await shared_window(direct, limited) == (3, 75), "the first call once, the second merged, the third"


async def test_a_failed_merge_keeps_counting_locally_and_a_later_one_merges_every_call_once(
    linked, direct, link, clock
) -> None:
    a, b = replica(linked, clock), replica(direct, clock)
    limited = deployment(rpm=4)

    link.cut()
    for _ in range(2):
        assert await a.admit(limited, 1) is None
    clock.now += 2  # Redis asked again, the merge fails: still counted locally, with the earlier calls
    assert await a.admit(limited, 1) is None
    assert await shared_window(direct, limited) == (0, 0)
    link.restore()
    clock.now += 2

    assert await a.admit(limited, 1) is None
    assert await shared_window(direct, limited) == (4, 4)
    assert await b.admit(limited, 1) is not None, "3 merged + 1 fill rpm 4"


async def test_replicas_over_the_limit_together_after_an_outage_admit_nothing_until_enough_calls_leave(
    redis_url, link, clock
) -> None:
    start = clock.now
    url = await link.start()
    clients = [create_redis(url, timeout_seconds=TIMEOUT_SECONDS) for _ in range(2)]
    a, b = (replica(client, clock) for client in clients)
    limited = deployment(rpm=3)
    try:
        link.cut()
        for second in range(3):
            clock.now = start + second
            assert await a.admit(limited, 1) is None
            assert await b.admit(limited, 1) is None, "each replica admits the full rpm alone"
        link.restore()
        clock.now = start + 10

        assert await a.admit(limited, 1) == pytest.approx(50.0), "its own 3 calls fill the window"
        assert await b.admit(limited, 1) == pytest.approx(51.0), "6 merged calls: free when 4 have left, at second 61"
        clock.now = start + 60.5
        assert await a.admit(limited, 1) == pytest.approx(0.5), "4 calls still in the window: over rpm, none admitted"
        clock.now = start + 61
        assert await a.admit(limited, 1) is None
    finally:
        for client in clients:
            await client.aclose()


async def test_the_first_admit_after_the_outage_merges_every_deployment_counted_locally(
    linked, direct, link, clock
) -> None:
    a, b = replica(linked, clock), replica(direct, clock)
    limited, other = deployment(rpm=2), deployment(rpm=2, name="d-other")

    link.cut()
    for _ in range(2):
        assert await a.admit(limited, 1) is None
    link.restore()
    clock.now += 2

    assert await a.admit(other, 1) is None
    assert await b.admit(limited, 1) is not None, "the calls counted for it were merged before the other's admit"
