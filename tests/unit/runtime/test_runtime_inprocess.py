"""A call to a co-located service behaves as the same call over the network: each test runs both ways.

Statuses and their rich details, validation, request id and deadline propagation, deadlines and cancellation
reaching the handler, streamed answers, a stream failing mid-way, trailing metadata and bidirectional streams;
a reader slower than its stream, cancelling a stream however far it got, a request stream that fails, a handler
that gives up by cancelling itself, and a handler that is slow to wind down when its caller's deadline passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator

import grpc
import pytest
from google.rpc import error_details_pb2
from pydantic_settings import SettingsConfigDict

from sluicegate.cache.v1 import cache_pb2, cache_pb2_grpc
from sluicegate.common.v1 import errors_pb2
from sluicegate.runtime.channels import UNAVAILABLE_RETRY, create_channel
from sluicegate.runtime.context import remaining_seconds, request_id_var
from sluicegate.runtime.errors import OUTAGE_CODES, ServiceError, invalid_argument, resource_exhausted, unavailable
from sluicegate.runtime.inprocess import LOCAL_SERVICES, STREAM_WINDOW, LocalChannel, LocalServices
from sluicegate.runtime.interceptors import CallInterceptor
from sluicegate.runtime.server import ServiceApp, ServiceSpec, start_colocated, start_service
from sluicegate.runtime.settings import ServiceSettings

SERVICE = "toy.v1.Toy"
TRAILER = "x-toy-summary"
# More pieces than an in-process stream lets its handler run ahead of its reader.
MANY = 3 * STREAM_WINDOW
# How long a lingering handler takes to wind down once cancelled: far past the deadlines the tests set.
LINGER_SECONDS = 1.0


class ToySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TOY_")


def _same(data: bytes) -> bytes:
    return data


class Toy:
    """Each request names the behaviour the test wants from the server."""

    def __init__(self) -> None:
        self.seen: dict[str, object] = {}
        self.cancelled = asyncio.Event()
        self.attempts = 0
        self.stream_attempts = 0

    async def echo(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        if request == b"boom":
            raise RuntimeError("secret internals that must not reach the client")
        if request == b"broke":
            raise resource_exhausted(errors_pb2.ERROR_REASON_BUDGET_EXCEEDED, "tenant:t:daily", "daily budget spent")
        self.attempts += 1
        if (request == b"blips" and self.attempts == 1) or request == b"down":
            raise unavailable(errors_pb2.ERROR_REASON_METERING_UNAVAILABLE, "Redis blipped")
        if request == b"slow":
            await self._wait_to_be_cancelled()
        if request == b"lingers":
            await self._wait_to_be_cancelled(linger=True)
        if request == b"gives up":
            # Its own work was cancelled under it (a shared future, say), not the call.
            raise asyncio.CancelledError()
        if request.startswith(b"answer bytes:"):
            return b"x" * int(request.partition(b":")[2])
        self.seen["request_id"] = request_id_var.get()
        self.seen["remaining"] = remaining_seconds(default=100.0)
        return b"echo:" + request

    async def count(self, request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        self.stream_attempts += 1
        if request == b"blips" and self.stream_attempts == 1:
            raise unavailable(errors_pb2.ERROR_REASON_METERING_UNAVAILABLE, "Redis blipped before the first piece")
        for number in range(MANY if request == b"many" else 3):
            if request == b"fail" and number == 2:
                raise unavailable(errors_pb2.ERROR_REASON_STREAM_INTERRUPTED, "provider stream broke")
            if request in (b"slow", b"lingers") and number == 1:
                await self._wait_to_be_cancelled(linger=request == b"lingers")
            if request.startswith(b"piece bytes:") and number == 1:
                yield b"x" * int(request.partition(b":")[2])
                continue
            yield str(number).encode()
        context.set_trailing_metadata(((TRAILER, "three"),))

    async def joined(self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> bytes:
        self.attempts += 1
        pieces = [request async for request in requests]
        if self.attempts == 1:
            raise unavailable(errors_pb2.ERROR_REASON_METERING_UNAVAILABLE, "Redis blipped after reading")
        return b"".join(pieces)

    async def upper(self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        try:
            async for request in requests:
                yield request.upper()
        except Exception as exc:
            self.seen["upper_raised"] = type(exc).__name__
            raise

    async def _wait_to_be_cancelled(self, linger: bool = False) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            self.cancelled.set()
            if linger:
                await asyncio.sleep(LINGER_SECONDS)
            raise


def add_toy_to_server(servicer: Toy, server) -> None:
    """What generated code does for a service: register its handlers both ways."""
    methods = {
        "Echo": grpc.unary_unary_rpc_method_handler(servicer.echo, _same, _same),
        "Count": grpc.unary_stream_rpc_method_handler(servicer.count, _same, _same),
        "Upper": grpc.stream_stream_rpc_method_handler(servicer.upper, _same, _same),
        "Joined": grpc.stream_unary_rpc_method_handler(servicer.joined, _same, _same),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, methods),))
    server.add_registered_method_handlers(SERVICE, methods)


def _validate(request: bytes) -> None:
    if not request:
        raise invalid_argument({"request": "must not be empty"})


class ToyClient:
    def __init__(self, channel) -> None:
        self.echo = channel.unary_unary(f"/{SERVICE}/Echo", request_serializer=_same, response_deserializer=_same)
        self.count = channel.unary_stream(f"/{SERVICE}/Count", request_serializer=_same, response_deserializer=_same)
        self.upper = channel.stream_stream(f"/{SERVICE}/Upper", request_serializer=_same, response_deserializer=_same)
        self.joined = channel.stream_unary(f"/{SERVICE}/Joined", request_serializer=_same, response_deserializer=_same)


@contextlib.asynccontextmanager
async def _served_toy(
    transport: str, server_max_bytes: int = 4 * 1024 * 1024, channel_max_bytes: int = 16 * 1024 * 1024
) -> AsyncIterator[tuple[Toy, ToyClient]]:
    servicer = Toy()

    async def build(app: ServiceApp) -> None:
        app.add_servicer(add_toy_to_server, servicer, SERVICE)
        app.add_validator(bytes, _validate)

    settings = ToySettings(port=0, log_requests=False, max_message_bytes=server_max_bytes)
    if transport == "inprocess":
        running = await start_colocated("toys", settings, [ServiceSpec("toy", settings, build)])
    else:
        running = await start_service("toy", settings, build)
    servicer.address = running.address
    channel = create_channel(running.address, [SERVICE], default_timeout_seconds=5, max_message_bytes=channel_max_bytes)
    assert isinstance(channel._channel, LocalChannel) == (transport == "inprocess")
    try:
        yield servicer, ToyClient(channel)
    finally:
        await channel.close()
        await running.stop(grace_seconds=0)
    assert not LOCAL_SERVICES.hosts([SERVICE])


@pytest.fixture(params=["network", "inprocess"])
async def toy(request) -> AsyncIterator[tuple[Toy, ToyClient]]:
    async with _served_toy(request.param) as served:
        yield served


async def test_an_answer_carries_the_request_id_and_the_handler_sees_the_callers_deadline(toy) -> None:
    servicer, client = toy
    token = request_id_var.set("req-colocated")
    try:
        answer = await client.echo(b"hi", timeout=2.0)
    finally:
        request_id_var.reset(token)
    assert answer == b"echo:hi"
    assert servicer.seen["request_id"] == "req-colocated"
    assert 1.5 < servicer.seen["remaining"] <= 2.05


async def test_a_service_error_keeps_its_code_and_rich_details(toy) -> None:
    _, client = toy
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.echo(b"broke")
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    error = ServiceError.from_rpc_error(caught.value)
    assert error.reason == "BUDGET_EXCEEDED"
    quota = next(d for d in error.details if isinstance(d, error_details_pb2.QuotaFailure))
    assert quota.violations[0].subject == "tenant:t:daily"


async def test_an_unexpected_exception_is_internal_without_its_internals(toy) -> None:
    _, client = toy
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.echo(b"boom")
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert "secret internals" not in caught.value.details()


async def test_the_validator_runs_before_the_handler(toy) -> None:
    _, client = toy
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.echo(b"")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    bad = next(
        d for d in ServiceError.from_rpc_error(caught.value).details if isinstance(d, error_details_pb2.BadRequest)
    )
    assert bad.field_violations[0].field == "request"


async def test_a_missed_deadline_is_deadline_exceeded_and_cancels_the_handler(toy) -> None:
    servicer, client = toy
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.echo(b"slow", timeout=0.2)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    await asyncio.wait_for(servicer.cancelled.wait(), 2)


async def test_a_caller_cancelled_mid_call_cancels_the_handler(toy) -> None:
    servicer, client = toy
    calling = asyncio.ensure_future(client.echo(b"slow"))
    await asyncio.sleep(0.1)
    calling.cancel()
    with pytest.raises(asyncio.CancelledError):
        await calling
    await asyncio.wait_for(servicer.cancelled.wait(), 2)


async def test_a_stream_delivers_every_piece_then_its_trailing_metadata(toy) -> None:
    _, client = toy
    call = client.count(b"go")
    pieces = [piece async for piece in call]
    assert pieces == [b"0", b"1", b"2"]
    assert dict(await call.trailing_metadata())[TRAILER] == "three"
    assert await call.code() == grpc.StatusCode.OK


async def test_a_stream_that_fails_mid_way_ends_with_its_error_after_what_it_sent(toy) -> None:
    _, client = toy
    pieces: list[bytes] = []
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for piece in client.count(b"fail"):
            pieces.append(piece)
    assert pieces == [b"0", b"1"]
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert ServiceError.from_rpc_error(caught.value).reason == "STREAM_INTERRUPTED"


async def test_cancelling_a_stream_cancels_its_handler(toy) -> None:
    servicer, client = toy
    call = client.count(b"slow")
    assert await call.read() == b"0"
    call.cancel()
    await asyncio.wait_for(servicer.cancelled.wait(), 2)


async def test_a_bidirectional_stream_answers_each_request(toy) -> None:
    _, client = toy

    async def words() -> AsyncIterator[bytes]:
        for word in (b"sluice", b"gate"):
            yield word

    assert [answer async for answer in client.upper(words())] == [b"SLUICE", b"GATE"]


async def test_a_reader_slower_than_the_stream_gets_every_piece_in_order(toy) -> None:
    _, client = toy
    pieces: list[bytes] = []
    async for piece in client.count(b"many"):
        pieces.append(piece)
        await asyncio.sleep(0.001)
    assert pieces == [str(number).encode() for number in range(MANY)]


@pytest.mark.parametrize("pieces_read", [0, 1])
async def test_reading_a_cancelled_stream_raises_cancelled_error_however_far_it_got(toy, pieces_read: int) -> None:
    _, client = toy
    call = client.count(b"slow")
    for _ in range(pieces_read):
        await call.read()
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(call.read(), 2)
    assert await asyncio.wait_for(call.code(), 2) == grpc.StatusCode.CANCELLED


async def test_a_reader_cancelled_while_waiting_cancels_the_stream_and_its_handler(toy) -> None:
    servicer, client = toy
    call = client.count(b"slow")
    assert await call.read() == b"0"
    reading = asyncio.ensure_future(call.read())
    await asyncio.sleep(0.1)
    reading.cancel()
    await asyncio.wait_for(servicer.cancelled.wait(), 2)


async def test_a_request_stream_that_raises_cancels_the_call_and_never_reaches_the_handler(toy) -> None:
    servicer, client = toy

    async def words() -> AsyncIterator[bytes]:
        yield b"sluice"
        await asyncio.sleep(0.05)
        raise ValueError("the caller's own bug")

    answers: list[bytes] = []
    with pytest.raises(asyncio.CancelledError):
        async for answer in client.upper(words()):
            answers.append(answer)
    assert answers == [b"SLUICE"]
    await asyncio.sleep(0.1)
    assert "upper_raised" not in servicer.seen


async def test_a_handler_that_gives_up_fails_the_call_as_an_outage_without_cancelling_the_caller(toy) -> None:
    _, client = toy
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.echo(b"gives up", timeout=0.3)
    assert caught.value.code() in OUTAGE_CODES


async def test_the_deadline_ends_a_call_on_time_however_slowly_its_handler_winds_down(toy) -> None:
    servicer, client = toy
    started = time.monotonic()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.echo(b"lingers", timeout=0.2)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 0.2 + LINGER_SECONDS / 2
    await asyncio.wait_for(servicer.cancelled.wait(), 2)


async def test_the_deadline_ends_a_stream_on_time_however_slowly_its_handler_winds_down(toy) -> None:
    servicer, client = toy
    started = time.monotonic()
    pieces: list[bytes] = []
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for piece in client.count(b"lingers", timeout=0.2):
            pieces.append(piece)
    assert pieces == [b"0"]
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 0.2 + LINGER_SECONDS / 2
    await asyncio.wait_for(servicer.cancelled.wait(), 2)


async def test_an_unavailable_answer_is_tried_again_by_a_channel_that_retries(toy) -> None:
    servicer, client = toy
    assert await client.echo(b"blips") == b"echo:blips"
    assert servicer.attempts == 2


async def test_a_stream_answered_unavailable_before_its_first_piece_is_tried_again(toy) -> None:
    servicer, client = toy
    assert [piece async for piece in client.count(b"blips")] == [b"0", b"1", b"2"]
    assert servicer.stream_attempts == 2


async def test_a_stream_that_failed_after_a_piece_is_not_tried_again(toy) -> None:
    servicer, client = toy
    with pytest.raises(grpc.aio.AioRpcError):
        _ = [piece async for piece in client.count(b"fail")]
    assert servicer.stream_attempts == 1


async def test_a_request_stream_answered_unavailable_is_never_sent_again_in_process() -> None:
    """Its requests were read and are gone: a retry would hand the handler an empty stream (gRPC over the
    network keeps a copy of them to replay; in-process the call fails as it is)."""
    local = LocalServices()
    servicer = Toy()
    local.register(add_toy_to_server, servicer, CallInterceptor("toy", {}, log_requests=False))

    async def words() -> AsyncIterator[bytes]:
        yield b"sluice"

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await ToyClient(local.channel(UNAVAILABLE_RETRY)).joined(words())
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert servicer.attempts == 1


async def test_retries_stop_after_the_policys_attempts_and_a_channel_without_them_tries_once(toy) -> None:
    servicer, client = toy
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.echo(b"down")
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert servicer.attempts == UNAVAILABLE_RETRY.max_attempts
    once = create_channel(servicer.address, [SERVICE], default_timeout_seconds=5, retry=False)
    try:
        with pytest.raises(grpc.aio.AioRpcError):
            await ToyClient(once).echo(b"down")
    finally:
        await once.close()
    assert servicer.attempts == UNAVAILABLE_RETRY.max_attempts + 1


class MutatingCache(cache_pb2_grpc.CacheServiceServicer):
    async def Lookup(self, request, context):
        request.key.tenant_id = "changed by the server"
        return cache_pb2.LookupResponse(question_embedding=b"v")


async def test_in_process_messages_are_copies_neither_side_can_change_for_the_other() -> None:
    local = LocalServices()
    local.register(cache_pb2_grpc.add_CacheServiceServicer_to_server, MutatingCache())
    stub = cache_pb2_grpc.CacheServiceStub(local.channel())
    request = cache_pb2.LookupRequest(key=cache_pb2.CacheKey(tenant_id="t1"))
    response = await stub.Lookup(request)
    assert request.key.tenant_id == "t1"
    assert response.question_embedding == b"v"


# The server takes and sends at most 1 KiB a message, its callers' channel 2 KiB.
SERVER_MAX_BYTES, CHANNEL_MAX_BYTES = 1024, 2048


@pytest.fixture(params=["network", "inprocess"])
async def small_toy(request) -> AsyncIterator[tuple[Toy, ToyClient]]:
    async with _served_toy(request.param, SERVER_MAX_BYTES, CHANNEL_MAX_BYTES) as served:
        yield served


async def _refused_as_too_large(call) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, caught.value.details()
    return caught.value.details()


async def test_a_request_larger_than_the_server_takes_is_refused_before_its_handler(small_toy) -> None:
    servicer, client = small_toy
    details = await _refused_as_too_large(client.echo(b"x" * 1500))
    assert "larger than max" in details
    assert servicer.attempts == 0


async def test_a_request_larger_than_the_channel_sends_is_refused_before_its_handler(small_toy) -> None:
    servicer, client = small_toy
    details = await _refused_as_too_large(client.echo(b"x" * 3000))
    assert "larger than max" in details
    assert servicer.attempts == 0


async def test_an_answer_larger_than_the_server_sends_fails_the_call(small_toy) -> None:
    _, client = small_toy
    await _refused_as_too_large(client.echo(b"answer bytes:1500"))
    assert await client.echo(b"answer bytes:1000") == b"x" * 1000


async def test_an_answer_larger_than_the_channel_takes_fails_the_call() -> None:
    for transport in ("network", "inprocess"):
        async with _served_toy(transport, server_max_bytes=4096, channel_max_bytes=CHANNEL_MAX_BYTES) as (_, client):
            details = await _refused_as_too_large(client.echo(b"answer bytes:3000"))
            assert "larger than max" in details, transport


async def test_a_streamed_piece_larger_than_the_server_sends_ends_the_stream_with_an_error(small_toy) -> None:
    _, client = small_toy
    received = []
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for piece in client.count(b"piece bytes:1500"):
            received.append(piece)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert received == [b"0"]


async def test_a_stream_that_could_not_send_a_piece_is_closed_without_an_error_left_behind(small_toy) -> None:
    """gRPC stops reading such a stream, and the event loop closes its handler in a task of its own: the call's
    context variables and span must not fail there (a ValueError per stream, reported as never retrieved)."""
    _, client = small_toy
    loop = asyncio.get_running_loop()
    reported: list[dict] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: reported.append(context))
    try:
        with pytest.raises(grpc.aio.AioRpcError):
            async for _ in client.count(b"piece bytes:1500"):
                pass
        for _ in range(5):
            await asyncio.sleep(0.02)
            gc.collect()
    finally:
        loop.set_exception_handler(previous)
    assert [context.get("exception") for context in reported] == []


async def test_a_method_no_service_here_hosts_is_unimplemented() -> None:
    stub = cache_pb2_grpc.CacheServiceStub(LocalServices().channel())
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Lookup(cache_pb2.LookupRequest())
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_a_channel_goes_in_process_only_when_every_service_it_names_is_hosted_here() -> None:
    local = LocalServices()
    local.register(cache_pb2_grpc.add_CacheServiceServicer_to_server, MutatingCache())
    assert local.hosts(["sluicegate.cache.v1.CacheService"])
    assert not local.hosts(["sluicegate.cache.v1.CacheService", "sluicegate.router.v1.RouterService"])
    assert not local.hosts([])


async def test_a_service_stopping_after_another_can_still_call_it_in_process() -> None:
    """The orchestrator settles what it owes as it stops: the services it calls are still there."""
    servicer = Toy()
    answers: list[bytes] = []

    async def build_toy(app: ServiceApp) -> None:
        app.add_servicer(add_toy_to_server, servicer, SERVICE)

    async def build_caller(app: ServiceApp) -> None:
        client = ToyClient(create_channel("unused:1", [SERVICE]))

        async def settle_on_the_way_out() -> None:
            answers.append(await client.echo(b"last"))

        app.on_shutdown(settle_on_the_way_out)

    settings = ToySettings(port=0, log_requests=False)
    running = await start_colocated(
        "toys", settings, [ServiceSpec("toy", settings, build_toy), ServiceSpec("caller", settings, build_caller)]
    )
    await running.stop(grace_seconds=0)
    assert answers == [b"echo:last"]
    assert not LOCAL_SERVICES.hosts([SERVICE])


async def test_a_colocated_services_spans_carry_its_own_service_name(monkeypatch) -> None:
    """A tracing backend files a co-located cache's spans under the cache, in-process calls and network ones."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from sluicegate.runtime import tracing
    from sluicegate.runtime.interceptors import PropagatingChannel

    exporter = InMemorySpanExporter()
    monkeypatch.setattr(tracing, "_SERVICE_PROVIDERS", {})
    monkeypatch.setattr(trace, "set_tracer_provider", lambda provider: None)  # the test process's stays
    tracing.install_tracer_providers("toys", ["toy", "cache"], SimpleSpanProcessor(exporter))

    async def build_toy(app: ServiceApp) -> None:
        app.add_servicer(add_toy_to_server, Toy(), SERVICE)

    async def build_cache(app: ServiceApp) -> None:
        app.add_servicer(cache_pb2_grpc.add_CacheServiceServicer_to_server, MutatingCache(), "x")

    settings = ToySettings(port=0, log_requests=False)
    running = await start_colocated(
        "toys", settings, [ServiceSpec("toy", settings, build_toy), ServiceSpec("cache", settings, build_cache)]
    )
    local = create_channel("unused:1", [SERVICE, "sluicegate.cache.v1.CacheService"])
    network = PropagatingChannel(grpc.aio.insecure_channel(running.address), 5.0)
    client = TracerProvider()  # the caller's trace is sampled, so the services record their spans
    client.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        with client.get_tracer("test").start_as_current_span("caller"):
            for channel in (local, network):
                await ToyClient(channel).echo(b"hi")
                await cache_pb2_grpc.CacheServiceStub(channel).Lookup(cache_pb2.LookupRequest())
    finally:
        await network.close()
        await running.stop(grace_seconds=0)
    served = [span for span in exporter.get_finished_spans() if span.name != "caller"]
    named = sorted((span.name, span.resource.attributes["service.name"]) for span in served)
    assert named == [
        ("/sluicegate.cache.v1.CacheService/Lookup", "sluicegate-cache"),
        ("/sluicegate.cache.v1.CacheService/Lookup", "sluicegate-cache"),
        (f"/{SERVICE}/Echo", "sluicegate-toy"),
        (f"/{SERVICE}/Echo", "sluicegate-toy"),
    ]
