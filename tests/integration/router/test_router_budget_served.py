"""A served router that reserves each call's budget itself (`authorize`): with a metering served over gRPC, it
reserves before any provider call, passes refusals on with their details, fails closed when metering is away,
carries out downgrades and gives back the reservations of calls that fail or are cancelled."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from router_testkit import MockUpstream, catalog, model_call, rpc_error

from sluicegate.common.v1 import chat_pb2, errors_pb2
from sluicegate.devstack.processes import free_port
from sluicegate.metering.v1 import metering_pb2, metering_pb2_grpc
from sluicegate.router.v1 import router_pb2
from sluicegate.runtime.errors import ServiceError, resource_exhausted


class RecordingMetering(metering_pb2_grpc.MeteringServiceServicer):
    """Reserves everything (or refuses with `refusal`, or downgrades to `downgrade_to`) and records each call."""

    def __init__(self) -> None:
        self.authorized: list[metering_pb2.AuthorizeRequest] = []
        self.settled: list[metering_pb2.SettleRequest] = []
        self.released: list[str] = []
        self.refusal: ServiceError | None = None
        self.downgrade_to = ""
        # How long metering takes to answer once it has reserved (as a slow Redis would make it).
        self.answer_delay_seconds = 0.0

    async def Authorize(self, request, context):
        self.authorized.append(request)
        await asyncio.sleep(self.answer_delay_seconds)
        if self.refusal is not None:
            await context.abort_with_status(self.refusal.to_status())
        if self.downgrade_to:
            return metering_pb2.AuthorizeResponse(
                reservation_id="r1", reserved_micros_usd=300, model=self.downgrade_to, downgraded_from=request.model
            )
        return metering_pb2.AuthorizeResponse(reservation_id="r1", reserved_micros_usd=4000, model=request.model)

    async def Release(self, request, context):
        self.released.append(request.reservation_id)
        return metering_pb2.ReleaseResponse(released_micros_usd=4000)

    async def Settle(self, request, context):
        self.settled.append(request)
        return metering_pb2.SettleResponse(charged_micros_usd=120)


@pytest.fixture
async def metering() -> AsyncIterator[tuple[RecordingMetering, str]]:
    server = grpc.aio.server()
    recording = RecordingMetering()
    metering_pb2_grpc.add_MeteringServiceServicer_to_server(recording, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield recording, f"127.0.0.1:{port}"
    finally:
        await server.stop(grace=None)


async def released(recording: RecordingMetering) -> list[str]:
    """The reservations given back, once one is (the router releases off the failed call's path)."""
    for _ in range(500):
        if recording.released:
            break
        await asyncio.sleep(0.02)
    return recording.released


def two_models(mock: MockUpstream, primary_directive: str = "mock-primary") -> dict:
    return catalog(
        {
            "primary": {"deployments": [mock.deployment("d-primary", primary_directive)]},
            "cheap": {"deployments": [mock.deployment("d-cheap", "mock-cheap")]},
        }
    )


AUTHORIZE = metering_pb2.AuthorizeRequest(
    principal=chat_pb2.Principal(tenant_id="acme", key_id="k1"), max_tokens=64, request_id="req-1"
)


def complete(prompt: str = "hello there", model: str = "primary") -> router_pb2.CompleteRequest:
    return router_pb2.CompleteRequest(call=model_call(model, prompt), authorize=AUTHORIZE)


async def test_the_router_reserves_the_planned_model_on_its_counted_prompt_before_calling(
    mock_upstream, start_router, metering
) -> None:
    recording, address = metering
    router = await start_router(two_models(mock_upstream), metering_addr=address)
    # Both calls must count with litellm's counter: while it loads, a call is counted with the heuristic.
    await router.wait_until_ready()

    response = await router.stub.Complete(complete("hello there " * 20), timeout=10)
    routed = await router.stub.Route(router_pb2.RouteRequest(call=model_call("primary", "hello there " * 20)))

    [authorized] = recording.authorized
    assert (authorized.model, authorized.principal.tenant_id, authorized.max_tokens) == ("primary", "acme", 64)
    assert authorized.prompt_tokens == routed.prompt_tokens > 0  # the same count a dry run gives
    assert (response.reservation.reservation_id, response.reservation.reserved_micros_usd) == ("r1", 4000)
    assert response.message.content[0].text.startswith("Mock answer from mock-primary")
    assert recording.released == []


async def test_the_router_settles_what_it_reserved_with_every_attempt_as_it_answers(
    mock_upstream, start_router, metering
) -> None:
    """The charge never depends on the caller reading the answer (a client gone as the answer left used to leave
    the reservation held until it expired, and the call unbilled)."""
    recording, address = metering
    router = await start_router(two_models(mock_upstream), metering_addr=address)

    response = await router.stub.Complete(complete(), timeout=10)

    for _ in range(250):
        if recording.settled:
            break
        await asyncio.sleep(0.02)
    [settled] = recording.settled
    assert response.settled and settled.reservation_id == response.reservation.reservation_id == "r1"
    charged = [(charge.model, charge.deployment, charge.usage) for charge in settled.charges]
    assert charged == [(attempt.model, attempt.deployment, attempt.usage) for attempt in response.attempts]
    assert len(charged) == len(response.attempts) >= 1
    assert recording.released == []


async def test_a_refusal_passes_through_with_its_details_and_no_provider_is_called(
    mock_upstream, start_router, metering
) -> None:
    recording, address = metering
    recording.refusal = resource_exhausted(
        errors_pb2.ERROR_REASON_BUDGET_EXCEEDED, "tenant:acme:daily", "the daily budget is spent"
    )
    router = await start_router(two_models(mock_upstream, "mock-refused"), metering_addr=address)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.stub.Complete(complete(), timeout=10)

    error = rpc_error(caught)
    assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED and error.reason == "BUDGET_EXCEEDED"
    assert [v.subject for d in error.details if hasattr(d, "violations") for v in d.violations] == ["tenant:acme:daily"]
    assert (await mock_upstream.stats("mock-refused")).get("received", 0) == 0


async def test_metering_out_of_reach_fails_the_call_closed(mock_upstream, start_router) -> None:
    router = await start_router(two_models(mock_upstream, "mock-unmetered"), metering_addr=f"127.0.0.1:{free_port()}")

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.stub.Complete(complete(), timeout=10)

    error = rpc_error(caught)
    assert error.code == grpc.StatusCode.UNAVAILABLE and error.reason == "METERING_UNAVAILABLE"
    assert (await mock_upstream.stats("mock-unmetered")).get("received", 0) == 0
    # Calls that reserve nothing are served as before.
    assert (await router.complete("primary")).message.content[0].text


async def test_a_downgrade_metering_proposes_is_carried_out(mock_upstream, start_router, metering) -> None:
    recording, address = metering
    recording.downgrade_to = "cheap"
    router = await start_router(two_models(mock_upstream), metering_addr=address)

    response = await router.stub.Complete(complete(), timeout=10)

    assert response.model == "cheap" and response.route.deployment == "d-cheap"
    assert response.route.downgraded_from == "primary" and "downgraded the call to cheap" in response.route.reason
    assert response.reservation.downgraded_from == "primary"


async def test_a_call_that_fails_after_reserving_gives_the_reservation_back(
    mock_upstream, start_router, metering
) -> None:
    recording, address = metering
    router = await start_router(two_models(mock_upstream, "mock-status-503"), metering_addr=address)

    with pytest.raises(grpc.aio.AioRpcError):
        await router.stub.Complete(complete(), timeout=10)

    assert await released(recording) == ["r1"]


async def test_a_cancelled_call_gives_the_reservation_back(mock_upstream, start_router, metering) -> None:
    recording, address = metering
    router = await start_router(two_models(mock_upstream, "mock-slow"), metering_addr=address)
    await mock_upstream.behave("mock-slow", delay_ms=5000)

    call = router.stub.Complete(complete(), timeout=10)
    await mock_upstream.wait_for("mock-slow", "received", 1)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call

    assert await released(recording) == ["r1"]


async def test_a_stream_sends_its_reservation_first(mock_upstream, start_router, metering) -> None:
    recording, address = metering
    router = await start_router(two_models(mock_upstream), metering_addr=address)

    request = router_pb2.CompleteStreamRequest(call=model_call("primary"), authorize=AUTHORIZE)
    events = [event async for event in router.stub.CompleteStream(request, timeout=10)]

    assert events[0].WhichOneof("event") == "reservation" and events[0].reservation.reservation_id == "r1"
    assert {event.WhichOneof("event") for event in events[1:-1]} == {"delta"}
    assert events[-1].HasField("summary") and len(recording.authorized) == 1 and recording.released == []


async def test_a_dry_run_with_authorize_routes_and_reserves_in_one_call(mock_upstream, start_router, metering) -> None:
    recording, address = metering
    recording.downgrade_to = "cheap"
    router = await start_router(two_models(mock_upstream, "mock-dry-run"), metering_addr=address)

    request = router_pb2.RouteRequest(call=model_call("primary", "hello there"), authorize=AUTHORIZE)
    routed = await router.stub.Route(request, timeout=10)

    [authorized] = recording.authorized
    assert authorized.model == "primary" and authorized.prompt_tokens == routed.prompt_tokens > 0
    assert routed.reservation.reservation_id == "r1" and routed.reservation.model == "cheap"
    assert routed.decision.model == "cheap" and routed.decision.downgraded_from == "primary"
    assert (await mock_upstream.stats("mock-dry-run")).get("received", 0) == 0  # a dry run calls no provider
    assert recording.released == []  # the caller settles or releases it


async def test_a_refused_stream_passes_metering_s_details_on(mock_upstream, start_router, metering) -> None:
    recording, address = metering
    recording.refusal = resource_exhausted(
        errors_pb2.ERROR_REASON_BUDGET_EXCEEDED, "tenant:acme:daily", "the daily budget is spent"
    )
    router = await start_router(two_models(mock_upstream, "mock-stream-refused"), metering_addr=address)

    request = router_pb2.CompleteStreamRequest(call=model_call("primary"), authorize=AUTHORIZE)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        [event async for event in router.stub.CompleteStream(request, timeout=10)]

    error = rpc_error(caught)
    assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED and error.reason == "BUDGET_EXCEEDED"
    assert [v.subject for d in error.details if hasattr(d, "violations") for v in d.violations] == ["tenant:acme:daily"]
    assert (await mock_upstream.stats("mock-stream-refused")).get("received", 0) == 0


def _reserving_call(stub, rpc: str, prompt: str):
    if rpc == "Complete":
        return stub.Complete(complete(prompt), timeout=10)
    if rpc == "Route":
        return stub.Route(router_pb2.RouteRequest(call=model_call("primary", prompt), authorize=AUTHORIZE), timeout=10)
    request = router_pb2.CompleteStreamRequest(call=model_call("primary", prompt), authorize=AUTHORIZE)
    return stub.CompleteStream(request, timeout=10)


@pytest.mark.parametrize("rpc", ["Complete", "CompleteStream", "Route"])
async def test_a_call_cancelled_while_metering_reserves_gives_that_reservation_back(
    mock_upstream, start_router, metering, rpc: str
) -> None:
    """Metering may reserve after the caller went away: the router never learns that reservation's id unless it
    waits for metering's answer, and the budget stays held until the reservation expires."""
    recording, address = metering
    recording.answer_delay_seconds = 0.3
    router = await start_router(two_models(mock_upstream, "mock-never-reached"), metering_addr=address)

    call = _reserving_call(router.stub, rpc, f"cancelled during {rpc}")
    for _ in range(500):
        if recording.authorized:
            break
        await asyncio.sleep(0.01)
    call.cancel()

    assert await released(recording) == ["r1"]
    assert (await mock_upstream.stats("mock-never-reached")).get("received", 0) == 0


async def test_a_stream_cancelled_before_its_caller_read_the_reservation_gives_it_back(
    mock_upstream, start_router, metering
) -> None:
    """The reservation event can be sent and never read (the caller cancels while it is on its way): until the
    answer's first delta the caller has nothing to settle, so the router gives the reservation back."""
    recording, address = metering
    router = await start_router(two_models(mock_upstream, "mock-slow-first-token"), metering_addr=address)
    await mock_upstream.behave("mock-slow-first-token", delay_ms=5000)

    request = router_pb2.CompleteStreamRequest(call=model_call("primary"), authorize=AUTHORIZE)
    call = router.stub.CompleteStream(request, timeout=10)
    await mock_upstream.wait_for("mock-slow-first-token", "received", 1)  # the reservation event has gone out
    call.cancel()

    assert await released(recording) == ["r1"]


async def test_a_stream_cancelled_after_its_answer_began_leaves_the_reservation_to_its_caller(
    mock_upstream, start_router, metering
) -> None:
    """Once deltas went out the caller may settle the reservation for them: the router must not release it."""
    recording, address = metering
    router = await start_router(two_models(mock_upstream, "mock-drip"), metering_addr=address)
    await mock_upstream.behave("mock-drip", chunk_delay_ms=200)

    request = router_pb2.CompleteStreamRequest(call=model_call("primary"), authorize=AUTHORIZE)
    call = router.stub.CompleteStream(request, timeout=10)
    events = aiter(call)
    assert (await anext(events)).HasField("reservation")
    assert (await anext(events)).HasField("delta")
    call.cancel()
    await asyncio.sleep(0.5)

    assert recording.released == []
