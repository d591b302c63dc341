"""The shared Redis client's own connections: the command pipe (order, script reloads, errors, timeouts,
reconnects) and a followed channel."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import redis.asyncio as aioredis
from redis import exceptions as redis_errors
from redis.commands.core import AsyncScript

from sluicegate.devstack.processes import free_port
from sluicegate.runtime.redis import PipelinedScript, create_redis, follow_channel, pipelined

ECHO = "return ARGV[1]"
INCREMENT = "return redis.call('INCRBY', KEYS[1], ARGV[1])"


async def test_concurrent_callers_each_get_their_own_reply(redis_url: str) -> None:
    client = create_redis(redis_url)
    echo = client.register_script(ECHO)
    assert isinstance(echo, PipelinedScript)
    replies = await asyncio.gather(*(echo(args=[f"call-{index}"]) for index in range(300)))
    assert replies == [f"call-{index}".encode() for index in range(300)]
    await client.aclose()


async def test_numbers_and_text_are_encoded_as_redis_py_encodes_them(redis_url: str) -> None:
    client = create_redis(redis_url)
    echo = client.register_script(ECHO)
    assert [await echo(args=[value]) for value in (7, -2, 0.1, 1e20, "é")] == [
        b"7",
        b"-2",
        b"0.1",
        b"1e+20",
        "é".encode(),
    ]
    increment = client.register_script(INCREMENT)
    assert await increment(keys=["counter"], args=[5]) == 5
    assert await client.get("counter") == b"5"
    await client.aclose()


async def test_plain_commands_share_the_pipe_and_fall_back_to_redis_py(redis_url: str) -> None:
    client = create_redis(redis_url)
    assert await pipelined(client, "SET", "sealed", b"\x00ciphertext", "EX", 60) == b"OK"
    assert await pipelined(client, "GET", "sealed") == b"\x00ciphertext"
    assert 0 < await client.ttl("sealed") <= 60
    assert await pipelined(client, "GET", "absent") is None
    plain = aioredis.Redis.from_url(redis_url)
    assert await pipelined(plain, "GET", "sealed") == b"\x00ciphertext"
    await plain.aclose()
    await client.aclose()


async def test_a_script_is_loaded_again_after_redis_forgets_it(redis_url: str) -> None:
    client = create_redis(redis_url)
    increment = client.register_script(INCREMENT)
    assert await increment(keys=["n"], args=[1]) == 1
    await client.script_flush()
    assert await increment(keys=["n"], args=[1]) == 2
    await client.aclose()


async def test_an_error_reply_is_raised_and_the_connection_stays_usable(redis_url: str) -> None:
    client = create_redis(redis_url)
    failing = client.register_script("return redis.error_reply('over budget')")
    echo = client.register_script(ECHO)
    results = await asyncio.gather(failing(), echo(args=["after"]), return_exceptions=True)
    assert isinstance(results[0], redis_errors.ResponseError) and "over budget" in str(results[0])
    assert results[1] == b"after"
    await client.aclose()


async def test_a_cancelled_caller_does_not_shift_the_others_replies(redis_url: str) -> None:
    client = create_redis(redis_url)
    echo = client.register_script(ECHO)
    await echo(args=["connect"])
    calls = [asyncio.ensure_future(echo(args=[index])) for index in range(50)]
    await asyncio.sleep(0)  # every command written
    for index in range(0, 50, 3):
        calls[index].cancel()
    results = await asyncio.gather(*calls, return_exceptions=True)
    for index, result in enumerate(results):
        if index % 3 == 0:
            assert isinstance(result, asyncio.CancelledError)
        else:
            assert result == str(index).encode()
    assert await echo(args=["next"]) == b"next"
    await client.aclose()


async def test_the_url_selects_the_database_and_authenticates(redis_url: str) -> None:
    admin = aioredis.Redis.from_url(redis_url)
    await admin.execute_command("ACL", "SETUSER", "pipe-user", "on", ">pipe-secret", "~*", "+@all")
    try:
        address = redis_url.removeprefix("redis://").rsplit("/", 1)[0]
        client = create_redis(f"redis://pipe-user:pipe-secret@{address}/3")
        increment = client.register_script(INCREMENT)
        assert await increment(keys=["in-three"], args=[4]) == 4
        assert await admin.exists("in-three") == 0
        database_three = aioredis.Redis.from_url(f"redis://{address}/3")
        assert await database_three.get("in-three") == b"4"
        await database_three.aclose()
        await client.aclose()

        refused = create_redis(f"redis://pipe-user:wrong@{address}/0")
        with pytest.raises(redis_errors.ConnectionError, match="AUTH"):
            await refused.register_script(ECHO)(args=["x"])
        await refused.aclose()
    finally:
        await admin.execute_command("ACL", "DELUSER", "pipe-user")
        await admin.aclose()


async def test_a_refused_connection_is_a_connection_error() -> None:
    client = create_redis(f"redis://127.0.0.1:{free_port()}/0", timeout_seconds=0.5)
    with pytest.raises(redis_errors.ConnectionError):
        await client.register_script(ECHO)(args=["x"])
    await client.aclose()


@dataclass
class _FakeRedis:
    url: str = ""
    received: list[bytes] = field(default_factory=list)  # each connection's first bytes
    closed_by_client: int = 0


@contextlib.asynccontextmanager
async def _fake_redis(then_hang_up: bool = False) -> AsyncIterator[_FakeRedis]:
    """A server that reads what it is sent and never answers (or hangs up), noting connections the client closed."""
    fake = _FakeRedis()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        fake.received.append(await reader.read(1024))
        if then_hang_up:
            writer.close()
            return
        while await reader.read(1024):
            pass
        fake.closed_by_client += 1

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    fake.url = f"redis://127.0.0.1:{server.sockets[0].getsockname()[1]}/0"
    try:
        yield fake
    finally:
        server.close()


async def test_a_silent_server_times_out_and_every_call_comes_back() -> None:
    async with _fake_redis() as fake:
        client = create_redis(fake.url, timeout_seconds=0.2)
        echo = client.register_script(ECHO)
        started = time.monotonic()
        results = await asyncio.gather(echo(args=["a"]), echo(args=["b"]), return_exceptions=True)
        assert time.monotonic() - started < 1.5
        assert isinstance(results[0], redis_errors.TimeoutError)
        assert isinstance(results[1], redis_errors.TimeoutError | redis_errors.ConnectionError)
        with pytest.raises(redis_errors.TimeoutError):  # a new connection, timed out again rather than hanging
            await echo(args=["c"])
        assert len(fake.received) == 2
        await client.aclose()


async def test_a_handshake_without_an_answer_closes_its_connection() -> None:
    async with _fake_redis() as fake:
        client = create_redis(fake.url.replace("redis://", "redis://:secret@"), timeout_seconds=0.2)
        with pytest.raises(redis_errors.ConnectionError):
            await client.register_script(ECHO)(args=["x"])
        assert fake.received[0].startswith(b"*2\r\n$4\r\nAUTH")
        await _until(lambda: fake.closed_by_client == 1)
        await client.aclose()


async def test_a_connection_closed_mid_call_fails_the_call_and_the_next_one_reconnects(redis_url: str) -> None:
    client = create_redis(redis_url)
    echo = client.register_script(ECHO)
    assert await echo(args=["first"]) == b"first"
    admin = aioredis.Redis.from_url(redis_url)
    await admin.client_kill_filter(_type="normal", skipme=True)
    # At once, before the event loop has read the close: the idle connection is found closed and replaced.
    assert await echo(args=["second"]) == b"second"

    async with _fake_redis(then_hang_up=True) as fake:
        dropped = create_redis(fake.url, timeout_seconds=5.0)
        with pytest.raises(redis_errors.ConnectionError):
            await dropped.register_script(ECHO)(args=["x"])
        await dropped.aclose()
    await admin.aclose()
    await client.aclose()


async def test_a_closed_client_refuses_scripts(redis_url: str) -> None:
    client = create_redis(redis_url)
    echo = client.register_script(ECHO)
    assert await echo(args=["open"]) == b"open"
    await client.aclose()
    with pytest.raises(redis_errors.ConnectionError):
        await echo(args=["closed"])


def test_tls_urls_keep_redis_pys_scripts() -> None:
    client = create_redis("rediss://127.0.0.1:6380/0")
    assert isinstance(client.register_script(ECHO), AsyncScript)


class _Follower:
    def __init__(self) -> None:
        self.events: list[object] = []
        self.subscribed = asyncio.Event()

    def on_message(self, data: bytes) -> None:
        self.events.append(data)

    def on_subscribed(self) -> None:
        self.events.append("subscribed")
        self.subscribed.set()

    async def follow(self, client: aioredis.Redis) -> asyncio.Future:
        """Follows "changes" in a task of its own, returned once subscribed."""
        following = asyncio.ensure_future(follow_channel(client, "changes", self.on_message, self.on_subscribed))
        await asyncio.wait_for(self.subscribed.wait(), 5)
        return following


async def _until(condition, timeout_seconds: float = 5.0) -> None:
    async with asyncio.timeout(timeout_seconds):
        while not condition():
            await asyncio.sleep(0.01)


async def test_a_followed_channel_confirms_then_delivers_every_message_in_order(redis_url: str) -> None:
    client = create_redis(redis_url)
    follower = _Follower()
    following = await follower.follow(client)
    publisher = aioredis.Redis.from_url(redis_url)
    for number in range(200):
        await publisher.publish("changes", f"change {number}".encode())
    await publisher.publish("elsewhere", b"not followed")
    await _until(lambda: len(follower.events) == 201)
    assert follower.events == ["subscribed"] + [f"change {number}".encode() for number in range(200)]
    following.cancel()
    with pytest.raises(asyncio.CancelledError):
        await following
    await publisher.aclose()
    await client.aclose()


async def test_a_lost_channel_connection_ends_the_follow_with_a_connection_error(redis_url: str) -> None:
    client = create_redis(redis_url)
    follower = _Follower()
    following = await follower.follow(client)
    admin = aioredis.Redis.from_url(redis_url)
    await admin.client_kill_filter(_type="pubsub")
    with pytest.raises(redis_errors.ConnectionError):
        await asyncio.wait_for(following, 5)
    await admin.aclose()
    await client.aclose()


async def test_a_follower_that_raises_ends_the_follow_with_its_error(redis_url: str) -> None:
    client = create_redis(redis_url)
    subscribed = asyncio.Event()

    def refuse(data: bytes) -> None:
        raise ValueError(f"cannot apply {data!r}")

    following = asyncio.ensure_future(follow_channel(client, "changes", refuse, subscribed.set))
    await asyncio.wait_for(subscribed.wait(), 5)
    publisher = aioredis.Redis.from_url(redis_url)
    await publisher.publish("changes", b"garbled")
    with pytest.raises(ValueError, match="garbled"):
        await asyncio.wait_for(following, 5)
    await publisher.aclose()
    await client.aclose()


async def test_a_server_that_never_confirms_the_subscription_times_out() -> None:
    async with _fake_redis() as fake:
        client = create_redis(fake.url, timeout_seconds=0.2)
        follower = _Follower()
        with pytest.raises(redis_errors.TimeoutError):
            await asyncio.wait_for(follow_channel(client, "changes", follower.on_message, follower.on_subscribed), 5)
        assert follower.events == []
        await client.aclose()


async def test_a_plain_redis_py_client_follows_through_redis_py(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    follower = _Follower()
    following = await follower.follow(client)
    publisher = aioredis.Redis.from_url(redis_url)
    await publisher.publish("changes", b"one")
    await _until(lambda: len(follower.events) == 2)
    assert follower.events == ["subscribed", b"one"]
    following.cancel()
    with pytest.raises(asyncio.CancelledError):
        await following
    await publisher.aclose()
    await client.aclose()


async def test_a_channel_connection_that_goes_silent_ends_the_follow_with_a_connection_error() -> None:
    """A server that confirms the subscription, then never answers again (a host gone without a FIN or RST)."""
    received: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.read(1024))
        writer.write(b"*3\r\n$9\r\nsubscribe\r\n$7\r\nchanges\r\n:1\r\n")
        await writer.drain()
        while data := await reader.read(1024):
            received.append(data)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    url = f"redis://127.0.0.1:{server.sockets[0].getsockname()[1]}/0"
    client = create_redis(url, timeout_seconds=0.2)
    follower = _Follower()
    try:
        following = asyncio.ensure_future(
            follow_channel(client, "changes", follower.on_message, follower.on_subscribed, ping_seconds=0.1)
        )
        with pytest.raises(redis_errors.ConnectionError, match="PING"):
            await asyncio.wait_for(following, 5)
        assert follower.events == ["subscribed"]
        assert b"PING" in b"".join(received[1:])
    finally:
        server.close()
        await client.aclose()


async def test_a_followed_channel_answers_its_pings_and_keeps_following(redis_url: str) -> None:
    client = create_redis(redis_url, timeout_seconds=0.5)
    subscribed = asyncio.Event()
    messages: list[bytes] = []
    following = asyncio.ensure_future(
        follow_channel(client, "changes", messages.append, subscribed.set, ping_seconds=0.05)
    )
    await asyncio.wait_for(subscribed.wait(), 5)
    await asyncio.sleep(0.4)  # several PINGs answered
    publisher = aioredis.Redis.from_url(redis_url)
    await publisher.publish("changes", b"after the pings")
    await _until(lambda: messages == [b"after the pings"])
    assert not following.done()
    following.cancel()
    with pytest.raises(asyncio.CancelledError):
        await following
    await publisher.aclose()
    await client.aclose()
