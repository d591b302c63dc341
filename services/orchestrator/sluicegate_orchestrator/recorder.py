"""Sends request traces to the observer off the request path: a bounded queue, batches, and counted drops."""

from __future__ import annotations

import asyncio
import contextlib

import grpc

from sluicegate.observer.v1 import observer_pb2, observer_pb2_grpc
from sluicegate.runtime.logs import get_logger

log = get_logger(__name__)


class TraceRecorder:
    """Never blocks or fails a user request: when the queue is full or the observer is down, traces are dropped
    and counted (`dropped`), so an operator knows what was lost."""

    def __init__(
        self,
        observer: observer_pb2_grpc.ObserverServiceStub,
        queue_size: int,
        batch_size: int,
        flush_seconds: float,
        send_timeout_seconds: float = 2.0,
    ) -> None:
        self._observer = observer
        self._queue: asyncio.Queue[observer_pb2.RequestTrace] = asyncio.Queue(maxsize=queue_size)
        self._batch_size = batch_size
        self._flush_seconds = flush_seconds
        self._send_timeout_seconds = send_timeout_seconds
        # Set when a batch's worth is queued: the sender stops waiting out the flush interval.
        self._batch_ready = asyncio.Event()
        self.sent = 0
        self.dropped = 0
        self._unreported_drops = 0
        self._in_hand: list[observer_pb2.RequestTrace] = []
        self._sending: asyncio.Future[None] | None = None

    def record(self, trace: observer_pb2.RequestTrace) -> None:
        try:
            self._queue.put_nowait(trace)
        except asyncio.QueueFull:
            self._count_drops(1)
            return
        if self._queue.qsize() >= self._batch_size - 1:  # with the one the sender holds, a batch
            self._batch_ready.set()

    @property
    def pending(self) -> int:
        return self._queue.qsize() + len(self._in_hand)

    async def run(self) -> None:
        """Batches and sends traces until cancelled: a batch leaves `flush_seconds` after its first trace came, or
        as soon as `batch_size` are queued. One wait a batch, not one per trace (Python 3.11's `wait_for` makes a
        task for each)."""
        while True:
            # Held where `drain` finds it: cancelled at shutdown while it waits, the batch is not lost.
            self._in_hand = [await self._queue.get()]
            if self._queue.qsize() < self._batch_size - 1:
                self._batch_ready.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._flush_seconds):
                        await self._batch_ready.wait()
            while len(self._in_hand) < self._batch_size and not self._queue.empty():
                self._in_hand.append(self._queue.get_nowait())
            batch, self._in_hand = self._in_hand, []
            # A send under way finishes even if this loop is cancelled; `drain` waits for it.
            self._sending = asyncio.ensure_future(self._send(batch))
            await asyncio.shield(self._sending)

    def _count_drops(self, count: int) -> None:
        self.dropped += count
        self._unreported_drops += count

    async def _send(self, batch: list[observer_pb2.RequestTrace]) -> None:
        reported = self._unreported_drops
        try:
            await self._observer.RecordTraces(
                observer_pb2.RecordTracesRequest(
                    traces=batch, dropped_traces=reported, sender="orchestrator", sender_queue_depth=self.pending
                ),
                timeout=self._send_timeout_seconds,
            )
            self.sent += len(batch)
            self._unreported_drops -= reported
        except grpc.aio.AioRpcError as exc:
            self._count_drops(len(batch))
            log.warning(
                "observer unreachable, traces dropped",
                count=len(batch),
                dropped_total=self.dropped,
                code=exc.code().name,
            )

    async def drain(self, timeout_seconds: float = 2.0) -> None:
        """Sends what is queued, and what the sending loop held when it was cancelled (used at shutdown)."""
        if self._sending is not None and not self._sending.done():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._sending), timeout_seconds)
        batch, self._in_hand = self._in_hand, []
        while not self._queue.empty():
            batch.append(self._queue.get_nowait())
        if batch:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._send(batch), timeout_seconds)
