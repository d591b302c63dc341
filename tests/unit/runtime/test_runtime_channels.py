"""A channel from create_channel is called as any grpc.aio channel is: every call shape, every way of passing its
arguments, still carries the request id and the default deadline."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from sluicegate.runtime.channels import create_channel
from sluicegate.runtime.context import request_id_var
from sluicegate.runtime.interceptors import REQUEST_ID_KEY

SERVICE = "toy.v1.Echo"


def _same(data: bytes) -> bytes:
    return data


class Echo:
    """Echoes what it receives and remembers each call's request id and time left."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, float]] = []

    def _note(self, context: grpc.aio.ServicerContext) -> None:
        metadata = dict(context.invocation_metadata())
        self.seen.append((metadata.get(REQUEST_ID_KEY, ""), context.time_remaining()))

    async def each(self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        self._note(context)
        async for request in requests:
            yield request

    async def joined(self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> bytes:
        self._note(context)
        return b"".join([request async for request in requests])


@pytest.fixture
async def echo() -> AsyncIterator[tuple[Echo, grpc.aio.Channel]]:
    server = grpc.aio.server()
    handler = Echo()
    methods = {
        "Each": grpc.stream_stream_rpc_method_handler(handler.each, _same, _same),
        "Joined": grpc.stream_unary_rpc_method_handler(handler.joined, _same, _same),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, methods),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = create_channel(f"127.0.0.1:{port}", [SERVICE], default_timeout_seconds=3.0)
    token = request_id_var.set("req-streams")
    try:
        yield handler, channel
    finally:
        request_id_var.reset(token)
        await channel.close()
        await server.stop(grace=None)


async def _pieces() -> AsyncIterator[bytes]:
    yield b"a"
    yield b"b"


async def test_client_streaming_calls_take_their_requests_by_keyword_or_by_writes(echo) -> None:
    handler, channel = echo
    each = channel.stream_stream(f"/{SERVICE}/Each", request_serializer=_same, response_deserializer=_same)
    joined = channel.stream_unary(f"/{SERVICE}/Joined", request_serializer=_same, response_deserializer=_same)

    by_keyword = [answer async for answer in each(request_iterator=_pieces(), wait_for_ready=True)]
    joined_by_keyword = await joined(request_iterator=_pieces())
    written = each()
    await written.write(b"c")
    await written.done_writing()
    by_writes = [answer async for answer in written]

    assert (by_keyword, joined_by_keyword, by_writes) == ([b"a", b"b"], b"ab", [b"c"])
    assert [request_id for request_id, _ in handler.seen] == ["req-streams"] * 3
    assert all(2.5 < remaining <= 3.05 for _, remaining in handler.seen)
