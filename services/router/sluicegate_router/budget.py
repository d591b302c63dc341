"""Reserves a call's budget with metering right before the provider is called, when the caller asks the router to."""

from __future__ import annotations

import asyncio

import grpc

from sluicegate.common.v1 import errors_pb2
from sluicegate.metering.v1 import metering_pb2, metering_pb2_grpc
from sluicegate.runtime.context import remaining_seconds
from sluicegate.runtime.errors import control_plane_error, unavailable
from sluicegate.runtime.logs import get_logger
from sluicegate.runtime.offpath import OffPathWork

log = get_logger(__name__)


class BudgetGate:
    """Metering's Authorize, Settle and Release as the router needs them.

    The caller's AuthorizeRequest names who pays and the most the answer may cost (principal, max_tokens); the
    router adds the model it planned and the prompt counted for that model's first deployment. Metering's refusal
    passes through with its details; metering that cannot answer fails the call closed. Without a metering address
    the router cannot reserve, and refuses such calls as it would if metering were down.
    """

    def __init__(self, metering: metering_pb2_grpc.MeteringServiceStub | None, timeout_seconds: float) -> None:
        self._metering = metering
        self._timeout_seconds = timeout_seconds
        self._off_path = OffPathWork()

    async def reserve(
        self, template: metering_pb2.AuthorizeRequest, model: str, prompt_tokens: int
    ) -> metering_pb2.AuthorizeResponse:
        if self._metering is None:
            raise unavailable(
                errors_pb2.ERROR_REASON_METERING_UNAVAILABLE,
                "this router has no metering address (ROUTER_METERING_ADDR) to reserve the budget with; failing closed",
                retry_after_seconds=1.0,
            )
        request = metering_pb2.AuthorizeRequest()
        request.CopyFrom(template)
        request.model, request.prompt_tokens = model, prompt_tokens
        authorizing = asyncio.ensure_future(
            self._metering.Authorize(request, timeout=remaining_seconds(self._timeout_seconds))
        )
        try:
            return await asyncio.shield(authorizing)
        except asyncio.CancelledError:
            # The caller went away while metering was answering. Metering may reserve all the same (cancelling
            # the RPC does not undo a reservation already made), and only its answer names the reservation: it
            # is awaited off the caller's path and given back.
            self._off_path.start(self._release_when_reserved(self._metering, authorizing))
            raise
        except grpc.aio.AioRpcError as exc:
            raise control_plane_error(exc, errors_pb2.ERROR_REASON_METERING_UNAVAILABLE, "metering") from None

    def settle(self, reservation_id: str, charges: list[metering_pb2.UsageCharge]) -> None:
        """Charges what the provider billed, off the caller's path (see runtime/offpath.py). The router settles a
        unary answer itself as it answers: the charge must not depend on the caller still being there to read it."""
        if self._metering is None:
            return
        self._off_path.start(self._settle(self._metering, reservation_id, charges))

    def release(self, reservation_id: str) -> None:
        """Gives a reservation back off the caller's path (the call failed or was cancelled after reserving)."""
        if self._metering is None:
            return
        self._off_path.start(self._release(self._metering, reservation_id))

    async def drain(self) -> None:
        """Waits for the settlements and releases handed over (at shutdown: none is left to expire)."""
        await self._off_path.drain()

    async def _release_when_reserved(
        self,
        metering: metering_pb2_grpc.MeteringServiceStub,
        authorizing: asyncio.Future[metering_pb2.AuthorizeResponse],
    ) -> None:
        try:
            reservation = await authorizing
        except grpc.aio.AioRpcError:
            return  # refused, or metering could not answer: nothing was reserved
        await self._release(metering, reservation.reservation_id)

    async def _settle(
        self,
        metering: metering_pb2_grpc.MeteringServiceStub,
        reservation_id: str,
        charges: list[metering_pb2.UsageCharge],
    ) -> None:
        try:
            await metering.Settle(
                metering_pb2.SettleRequest(reservation_id=reservation_id, charges=charges),
                timeout=self._timeout_seconds,
            )
        except grpc.aio.AioRpcError as exc:
            # Metering reclaims the reservation when it expires; the charge itself is lost, and the log says so.
            log.error("settle failed; the call's charge is lost", reservation_id=reservation_id, code=exc.code().name)

    async def _release(self, metering: metering_pb2_grpc.MeteringServiceStub, reservation_id: str) -> None:
        try:
            await metering.Release(
                metering_pb2.ReleaseRequest(reservation_id=reservation_id), timeout=self._timeout_seconds
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return  # its caller gave it back first (see Router.stream)
            # The reservation is not lost: metering reclaims it when it expires.
            log.warning("release failed; the reservation expires instead", code=exc.code().name)
