"""A Redis client sized on purpose, whose request-path commands run over one pipelined connection, and a
readiness check.

The services' request paths reach Redis through Lua scripts (a budget's reservation and settlement, the cache's
probe and store: two a pass-through request, four a full-pipeline one) and the guard's vault (a SET and a GET when a
prompt's PII is replaced). redis-py runs each command through its blocking pool (a condition to take a connection, a
check that it has no stray data), its retry wrapper and its response machinery: 80-150 us of CPU a scripted call in
a tight loop here. These commands instead share one connection a client (`CommandPipe`) on which each is written,
packed by hiredis, when it is called, and the replies, parsed by hiredis, go to the callers in order as they arrive:
50-60 us a call one at a time (5,000 sent at once took 90 ms of wall time). On a pass-through request the co-located
process's event loop spent 2.9-3.5 ms of CPU against 4.2-4.5 with redis-py's scripts (three alternating runs of
1,500). Registered scripts use the pipe by themselves; other commands opt in through `pipelined`. A followed channel
(`follow_channel`: the cache replicas' index changes) gets a connection of its own read the same way. Everything
else (admin commands, blocking reads, transactions) goes through redis-py.

An idle connection is looked at before a command is written to it (one non-blocking peek on a second descriptor of
its socket, `closed_while_idle`): one Redis closed, after a restart, a kill or its idle timeout, is replaced even
before the event loop has read the close, as redis-py's pool checks a connection before lending it. The pipe's calls
stayed at 49-58 us with the peek.

Failures keep redis-py's exception types, so the callers' error handling (fail closed, fail open) is unchanged: a
refused or lost connection raises `ConnectionError`, and so do the commands in flight on it (their outcome is
unknown: they are not sent again); a reply later than the client's timeout raises `TimeoutError` and closes the
connection, as redis-py drops a connection that timed out; the next call connects again."""

from __future__ import annotations

import asyncio
import collections
import hashlib
import os
import socket
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import hiredis
import redis.asyncio as aioredis
from redis import exceptions as redis_errors
from redis.asyncio.connection import parse_url

EncodableArg = bytes | str | int | float
ProtocolT = TypeVar("ProtocolT", bound="_PipeProtocol")


class RedisEndpoint:
    """Where a client's own connections go (the pipe's, a channel's): address and handshake from its URL."""

    def __init__(self, url: str, timeout_seconds: float) -> None:
        options = parse_url(url)
        self._host = options.get("host", "localhost")
        self._port = int(options.get("port", 6379))
        self._path: str | None = options.get("path")
        self._handshake: list[tuple[EncodableArg, ...]] = []
        password = options.get("password")
        if password is not None:
            username = options.get("username")
            self._handshake.append(("AUTH", username, password) if username else ("AUTH", password))
        if int(options.get("db", 0)):
            self._handshake.append(("SELECT", int(options["db"])))
        self.timeout_seconds = timeout_seconds

    async def connect(self, protocol_factory: Callable[[], ProtocolT]) -> ProtocolT:
        """A connection that has passed the handshake, or `ConnectionError` (a half-made one is closed)."""
        loop = asyncio.get_running_loop()
        protocol: ProtocolT | None = None
        try:
            async with asyncio.timeout(self.timeout_seconds):
                if self._path is not None:
                    _, protocol = await loop.create_unix_connection(protocol_factory, self._path)
                else:
                    _, protocol = await loop.create_connection(protocol_factory, self._host, self._port)
                for command in self._handshake:
                    reply = await protocol.send(hiredis.pack_command(command), self.timeout_seconds)
                    if isinstance(reply, redis_errors.ResponseError):
                        raise redis_errors.ConnectionError(f"Redis refused {command[0]}: {reply}")
        except BaseException as error:
            if protocol is not None:
                protocol.close()
            if isinstance(error, OSError | TimeoutError):
                raise redis_errors.ConnectionError(f"cannot connect to Redis: {error!r}") from error
            raise
        return protocol


class CommandPipe:
    """One connection that carries many commands at once: each is written when called and its reply is the next
    one to arrive for it (Redis answers a connection's commands in order)."""

    def __init__(self, endpoint: RedisEndpoint) -> None:
        self.endpoint = endpoint
        self._protocol: _PipeProtocol | None = None
        self._connecting: asyncio.Future[_PipeProtocol] | None = None
        self._closed = False

    async def execute(self, command: Sequence[EncodableArg]) -> Any:
        """The command's reply; a Redis error reply is raised as `ResponseError`."""
        protocol = self._protocol
        if protocol is None or protocol.lost or protocol.closed_while_idle():
            protocol = await self._connected()
        reply = await protocol.send(hiredis.pack_command(tuple(command)), self.endpoint.timeout_seconds)
        if isinstance(reply, redis_errors.ResponseError):
            raise reply
        return reply

    async def aclose(self) -> None:
        self._closed = True
        if self._protocol is not None:
            self._protocol.close()
            self._protocol = None

    async def _connected(self) -> _PipeProtocol:
        if self._closed:
            raise redis_errors.ConnectionError("the command pipe is closed")
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
        connecting = self._connecting
        try:
            # Shielded: a caller cancelled mid-connect does not cancel the others' connection.
            return await asyncio.shield(connecting)
        finally:
            if connecting.done() and self._connecting is connecting:
                self._connecting = None

    async def _connect(self) -> _PipeProtocol:
        protocol = await self.endpoint.connect(_PipeProtocol)
        if self._closed:  # closed while connecting
            protocol.close()
            raise redis_errors.ConnectionError("the command pipe is closed")
        self._protocol = protocol
        return protocol


class _PipeProtocol(asyncio.Protocol):
    """Writes packed commands, parses replies with hiredis and resolves the callers' futures in order. A reply
    whose caller was cancelled is read and dropped, so the order holds. A reply no command waits for is a push
    (`_pushed`): only a channel's connection gets any."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._reader = hiredis.Reader(protocolError=redis_errors.InvalidResponse, replyError=redis_errors.ResponseError)
        self._waiting: collections.deque[tuple[asyncio.Future, asyncio.TimerHandle]] = collections.deque()
        self._transport: asyncio.Transport | None = None
        self._peek: socket.socket | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        # A second descriptor on the same socket, to look at it without reading (`closed_while_idle`).
        self._peek = socket.socket(fileno=os.dup(transport.get_extra_info("socket").fileno()))
        self._peek.setblocking(False)

    def closed_while_idle(self) -> bool:
        """Whether Redis closed this connection (or sent what no command asked for) while no command was waiting,
        though the event loop has not read that yet: then it is dropped before a command is written to it, as
        redis-py's pool checks a connection before lending it. A command written to a connection Redis has closed
        would fail, and one written just as Redis closes it cannot be told from one Redis ran."""
        if self._waiting or self._peek is None:
            return False
        try:
            waiting = self._peek.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            return False
        except OSError:
            waiting = b""
        self._fail(redis_errors.ConnectionError(f"the Redis connection was closed while idle (unread: {waiting!r})"))
        return True

    def send(self, packed: bytes, timeout_seconds: float) -> asyncio.Future:
        reply = self._loop.create_future()
        expiry = self._loop.call_later(timeout_seconds, self._expired, reply)
        self._waiting.append((reply, expiry))
        self.write(packed)
        return reply

    def write(self, packed: bytes) -> None:
        if self.lost or self._transport is None:
            raise redis_errors.ConnectionError("the Redis connection was lost")
        self._transport.write(packed)

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        try:
            while (reply := self._reader.gets()) is not False:
                if not self._waiting:
                    self._pushed(reply)
                    continue
                waiter, expiry = self._waiting.popleft()
                expiry.cancel()
                if not waiter.done():
                    waiter.set_result(reply)
        except redis_errors.InvalidResponse as error:
            self._fail(redis_errors.ConnectionError(f"Redis sent an unexpected reply: {error!r}"))

    def _pushed(self, reply: Any) -> None:
        raise redis_errors.InvalidResponse(f"a reply no command waits for: {reply!r:.100}")

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(redis_errors.ConnectionError(f"the Redis connection was lost: {exc!r}"))

    def close(self) -> None:
        self._fail(redis_errors.ConnectionError("the Redis connection was closed"))

    def _expired(self, reply: asyncio.Future) -> None:
        # No reply within the timeout: the connection is not trusted again (the replies still owed would pair
        # with later commands), as redis-py disconnects a connection that timed out.
        if not reply.done():
            reply.set_exception(redis_errors.TimeoutError("Redis did not answer in time"))
        self._fail(redis_errors.ConnectionError("the Redis connection timed out"))

    def _fail(self, error: Exception) -> None:
        self.lost = True
        if self._peek is not None:
            self._peek.close()
            self._peek = None
        while self._waiting:
            waiter, expiry = self._waiting.popleft()
            expiry.cancel()
            if not waiter.done():
                waiter.set_exception(error)
        if self._transport is not None:
            self._transport.close()


# TCP keepalive on a channel's connection (where the platform has the options): the kernel probes an idle
# connection after 30 s, every 10 s, and drops it after 3 unanswered probes. The PING (`ping_seconds`) finds a
# dead connection sooner; keepalive also covers a follower whose pings are off and frees the socket.
_KEEPALIVE_OPTIONS = (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3))


class _ChannelProtocol(_PipeProtocol):
    """A subscribed connection: after the handshake every reply is a push, the subscription's confirmation, a
    message, or the answer to the follower's PING, handed to the follower's callbacks in the order Redis sent
    them."""

    def __init__(self, on_message: Callable[[bytes], None], on_subscribed: Callable[[], None]) -> None:
        super().__init__()
        self._on_message = on_message
        self._on_subscribed = on_subscribed
        self._unconfirmed: asyncio.TimerHandle | None = None
        self._next_ping: asyncio.TimerHandle | None = None
        self._unanswered: asyncio.TimerHandle | None = None
        self._timeout_seconds = 0.0
        self._ping_seconds: float | None = None
        self.ended: asyncio.Future[None] = self._loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            for name, value in _KEEPALIVE_OPTIONS:
                if hasattr(socket, name):
                    sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)

    def subscribe(self, channel: str, timeout_seconds: float, ping_seconds: float | None = None) -> None:
        """Asks for the channel; the follow ends with `TimeoutError` unless Redis confirms within the timeout. Then,
        with `ping_seconds`, PINGs Redis that often and ends the follow with `ConnectionError` when a PING is not
        answered within the timeout (a connection that died without a word: a host gone, a dropped NAT entry).
        On a connection already lost, `ended` holds that failure and there is nothing to ask."""
        if self.lost:
            return
        self._timeout_seconds, self._ping_seconds = timeout_seconds, ping_seconds
        self.write(hiredis.pack_command(("SUBSCRIBE", channel)))
        self._unconfirmed = self._loop.call_later(
            timeout_seconds, self._end, redis_errors.TimeoutError("Redis did not confirm the subscription in time")
        )

    def _schedule_ping(self) -> None:
        if self._ping_seconds is not None and not self.ended.done():
            self._next_ping = self._loop.call_later(self._ping_seconds, self._ping)

    def _ping(self) -> None:
        """Sends a PING (subscribed, Redis answers it with a `pong` push) and expects the answer in time."""
        if self.lost or self.ended.done():
            return
        self.write(hiredis.pack_command(("PING",)))
        self._unanswered = self._loop.call_later(
            self._timeout_seconds,
            self._fail,
            redis_errors.ConnectionError("Redis did not answer the channel's PING in time"),
        )

    def _pushed(self, reply: Any) -> None:
        kind = reply[0] if isinstance(reply, list) and reply else None
        try:
            if kind == b"message":
                self._on_message(reply[2])
            elif kind == b"pong":
                if self._unanswered is not None:
                    self._unanswered.cancel()
                    self._unanswered = None
                self._schedule_ping()
            elif kind == b"subscribe":
                if self._unconfirmed is not None:
                    self._unconfirmed.cancel()
                self._on_subscribed()
                self._schedule_ping()
        except Exception as error:  # noqa: BLE001 - the follower's failure ends the follow, raised to its caller
            self._end(error)

    def _fail(self, error: Exception) -> None:
        super()._fail(error)
        self._end(error)

    def _end(self, error: BaseException) -> None:
        for timer in (self._unconfirmed, self._next_ping, self._unanswered):
            if timer is not None:
                timer.cancel()
        if not self.ended.done():
            self.ended.set_exception(error)
        if self._transport is not None:
            self._transport.close()


class PipelinedScript:
    """A registered Lua script, called like redis-py's (`await script(keys=[...], args=[...])`): by SHA, and
    loaded again when Redis answers NOSCRIPT (after a restart or a SCRIPT FLUSH)."""

    def __init__(self, pipe: CommandPipe, source: str) -> None:
        self.script = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()
        self._pipe = pipe

    async def __call__(self, keys: Sequence[EncodableArg] = (), args: Sequence[EncodableArg] = ()) -> Any:
        command = ("EVALSHA", self.sha, len(keys), *keys, *args)
        try:
            return await self._pipe.execute(command)
        except redis_errors.ResponseError as error:
            if not str(error).startswith("NOSCRIPT"):
                raise
        await self._pipe.execute(("SCRIPT", "LOAD", self.script))
        return await self._pipe.execute(command)


class Redis(aioredis.Redis):
    """redis-py's client whose `register_script` scripts run over a `CommandPipe`."""

    command_pipe: CommandPipe | None = None

    def register_script(self, script: str | bytes):  # type: ignore[override]
        if self.command_pipe is None:
            return super().register_script(script)
        return PipelinedScript(self.command_pipe, script.decode() if isinstance(script, bytes) else script)

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        if self.command_pipe is not None:
            await self.command_pipe.aclose()
        await super().aclose(close_connection_pool)


async def pipelined(client: aioredis.Redis, *command: EncodableArg) -> Any:
    """Runs `command` on the client's pipe, or through redis-py for a client without one (a plain redis-py
    client, a TLS URL). Never a blocking command: the pipe's other callers would wait behind it. The reply is as
    Redis sends it (no redis-py response callbacks: a SET answers b"OK"); redis-py's may differ in type."""
    pipe = getattr(client, "command_pipe", None)
    if pipe is None:
        return await client.execute_command(*command)
    return await pipe.execute(command)


async def follow_channel(
    client: aioredis.Redis,
    channel: str,
    on_message: Callable[[bytes], None],
    on_subscribed: Callable[[], None],
    ping_seconds: float | None = 5.0,
) -> None:
    """Subscribes to `channel` on a connection of its own: `on_subscribed()` once Redis confirms, then
    `on_message(data)` for each message in order, until the connection is lost (`ConnectionError`), a callback
    raises (its exception) or the caller is cancelled. Messages published while not subscribed are not seen.

    A subscribed connection only ever reads, so one that died silently (no FIN or RST reached us) would never
    fail by itself: every `ping_seconds` (None: never) Redis is sent a PING, and one unanswered within the
    client's timeout counts as a lost connection (`ConnectionError`). The socket also has TCP keepalive on.

    A client from `create_redis` reads the channel with hiredis as the bytes arrive, without redis-py's PubSub
    polling: at most 40 us of CPU a 600-byte message here, against 80-88 through PubSub (two rounds of 2,000;
    every cache replica reads every store's message). Others (a plain redis-py client, a TLS URL) follow it
    through redis-py."""
    pipe = getattr(client, "command_pipe", None)
    if pipe is None:
        await _follow_with_redis_py(client, channel, on_message, on_subscribed)
        return
    protocol = await pipe.endpoint.connect(lambda: _ChannelProtocol(on_message, on_subscribed))
    try:
        protocol.subscribe(channel, pipe.endpoint.timeout_seconds, ping_seconds)
        await protocol.ended
    finally:
        protocol.close()


async def _follow_with_redis_py(
    client: aioredis.Redis, channel: str, on_message: Callable[[bytes], None], on_subscribed: Callable[[], None]
) -> None:
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe(channel)
        while True:
            message = await pubsub.get_message(timeout=1.0)
            if message is None:
                continue
            if message["type"] == "subscribe":
                on_subscribed()
            elif message["type"] == "message":
                on_message(message["data"])
    finally:
        await pubsub.aclose()


def create_redis(url: str, max_connections: int = 64, timeout_seconds: float = 2.0) -> Redis:
    """A client over a BlockingConnectionPool (callers wait for a free connection instead of failing at 100),
    whose scripts and `pipelined` commands share a pipelined connection. TLS URLs (`rediss://`) keep to the
    pool."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout_seconds,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        decode_responses=False,
    )
    client = Redis(connection_pool=pool)
    if not url.startswith("rediss://"):
        client.command_pipe = CommandPipe(RedisEndpoint(url, timeout_seconds))
    return client


def redis_readiness(client: aioredis.Redis):
    """A readiness check: the service is SERVING only while Redis answers PING."""

    async def check() -> bool:
        return bool(await client.ping())

    return check
