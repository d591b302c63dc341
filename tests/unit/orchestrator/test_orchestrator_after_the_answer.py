"""What must still happen when the client goes away: charges under the client's deadline, idempotent answers."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from orchestrator_fakes import Fakes, rpc_error

from sluicegate.common.v1 import chat_pb2
from sluicegate.convert import text_message
from sluicegate.gateway.v1 import gateway_pb2
from sluicegate.runtime.context import deadline_var
from sluicegate.runtime.errors import ServiceError
from sluicegate.runtime.redis import create_redis
from sluicegate_orchestrator.idempotency import IdempotencyStore

KEY = "good-key"


def chat(text: str, **fields) -> gateway_pb2.ChatRequest:
    return gateway_pb2.ChatRequest(messages=[text_message(chat_pb2.ROLE_USER, text)], model="balanced", **fields)


def honour_timeouts(fakes: Fakes, round_trip: float = 0.003) -> list[tuple[str, float]]:
    """Metering's Settle and Release as over a network: a call takes `round_trip`, and a shorter timeout is
    DEADLINE_EXCEEDED, as gRPC does. Returns the (method, timeout) of each call."""
    seen: list[tuple[str, float]] = []
    for name in ("Settle", "Release"):
        original = getattr(fakes.metering, name)

        def timed(original=original, name=name):
            async def call(request, timeout=None):
                seen.append((name, timeout))
                if timeout is not None and timeout < round_trip:
                    await asyncio.sleep(timeout)
                    raise rpc_error(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
                await asyncio.sleep(round_trip)
                return await original(request, timeout)

            return call

        setattr(fakes.metering, name, timed())
    return seen


async def _cut_by_the_deadline(work, seconds: float) -> None:
    async def client() -> None:
        deadline_var.set(time.monotonic() + seconds)  # as the server interceptor sets it for the call
        await work()

    task = asyncio.ensure_future(client())
    await asyncio.sleep(seconds)  # the deadline passes: gRPC cancels the call
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_stream_cut_by_the_clients_deadline_is_charged_for_what_it_delivered(fakes: Fakes) -> None:
    seen = honour_timeouts(fakes)
    fakes.router.chunk_delay_seconds = 0.02
    pipeline = fakes.make_pipeline()
    delivered = []

    async def stream() -> None:
        request = gateway_pb2.ChatStreamRequest(
            messages=[text_message(chat_pb2.ROLE_USER, "a long answer please, many many chunks")], model="balanced"
        )
        async for event in pipeline.chat_stream(request, KEY):
            delivered.append(event)

    await _cut_by_the_deadline(stream, 0.1)
    await pipeline.drain()
    assert len(delivered) >= 2
    assert [settled.reservation_id for settled in fakes.metering.settled] == ["r1"]
    assert all(timeout >= 0.5 for _, timeout in seen)  # its own timeout, not what was left of the client's


async def test_a_reservation_is_given_back_when_the_clients_deadline_cancels_the_call(fakes: Fakes) -> None:
    honour_timeouts(fakes)
    fakes.router.delay_seconds = 1.0
    fakes.cache.lookup_seconds = 0.01  # a miss that embeds: the plan beside it reserves
    fakes.guard.input_seconds = 0.01
    pipeline = fakes.make_pipeline()
    await _cut_by_the_deadline(lambda: pipeline.chat(chat("slow one"), KEY), 0.05)
    await pipeline.drain()
    assert fakes.metering.released == ["r1"]


async def test_an_answer_the_client_left_is_replayed_to_its_retry_not_charged_again(
    fakes: Fakes, redis_url: str
) -> None:
    redis = create_redis(redis_url)
    pipeline = fakes.make_pipeline(IdempotencyStore(redis, ttl_seconds=60))
    request = chat("pay once", idempotency_key="order-1", cache=chat_pb2.CacheControl(no_cache=True))
    task = asyncio.ensure_future(pipeline.chat(request, KEY))
    fakes.router.on_answer = task.cancel  # the connection drops just as the provider answered
    with pytest.raises(asyncio.CancelledError):
        await task
    fakes.router.on_answer = None
    await pipeline.drain()
    retried = await pipeline.chat(request, KEY)
    await pipeline.drain()
    await redis.aclose()
    assert retried.decision.idempotent_replay
    assert len(fakes.router.calls) == 1 and len(fakes.metering.settled) == 1


async def test_a_claim_whose_reply_was_lost_is_given_back_by_its_own_attempt(fakes: Fakes, redis_url: str) -> None:
    redis = create_redis(redis_url)

    class CancelledAfterClaiming(IdempotencyStore):
        armed = True

        async def claim(self, *args, **kwargs):
            result = await super().claim(*args, **kwargs)
            if self.armed:  # the client's cancel lands while the script's reply is on its way
                self.armed = False
                raise asyncio.CancelledError
            return result

    pipeline = fakes.make_pipeline(CancelledAfterClaiming(redis, ttl_seconds=86_400, poll_seconds=0.01))
    request = chat("hello", idempotency_key="k-1")
    with pytest.raises(asyncio.CancelledError):
        await pipeline.chat(request, KEY)
    await pipeline.drain()
    retried = await pipeline.chat(request, KEY)  # not ABORTED for a day: the key was given back
    await redis.aclose()
    assert not retried.decision.idempotent_replay and len(fakes.router.calls) == 1


async def test_an_answer_the_output_guard_blocks_gives_the_key_back(fakes: Fakes, redis_url: str) -> None:
    redis = create_redis(redis_url)
    fakes.guard.output_error = rpc_error(grpc.StatusCode.PERMISSION_DENIED, "blocked")
    pipeline = fakes.make_pipeline(IdempotencyStore(redis, ttl_seconds=60, poll_seconds=0.01))
    request = chat("hello", idempotency_key="k-2")
    with pytest.raises(ServiceError):
        await pipeline.chat(request, KEY)
    await pipeline.drain()
    fakes.guard.output_error = None
    retried = await pipeline.chat(request, KEY)
    await redis.aclose()
    assert not retried.decision.idempotent_replay and len(fakes.router.calls) == 2


async def test_an_answer_whose_client_left_during_the_output_guard_is_still_remembered(
    fakes: Fakes, redis_url: str
) -> None:
    redis = create_redis(redis_url)
    inspect_output = fakes.guard.InspectOutput

    async def slow_inspect_output(request, timeout=None):
        await asyncio.sleep(0.05)
        return await inspect_output(request, timeout)

    fakes.guard.InspectOutput = slow_inspect_output
    pipeline = fakes.make_pipeline(IdempotencyStore(redis, ttl_seconds=60))
    request = chat("pay once more", idempotency_key="order-2", cache=chat_pb2.CacheControl(no_cache=True))
    task = asyncio.ensure_future(pipeline.chat(request, KEY))
    await asyncio.sleep(0.02)  # answered by the provider, now in the output guard
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await pipeline.drain()
    retried = await pipeline.chat(request, KEY)
    await redis.aclose()
    assert retried.decision.idempotent_replay and retried.message.content[0].text == "you said: pay once more"
    assert len(fakes.router.calls) == 1
