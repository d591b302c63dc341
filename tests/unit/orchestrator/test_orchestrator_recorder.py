"""The trace recorder's batching: a full batch leaves at once, a partial one after the flush interval, none too big."""

from __future__ import annotations

import asyncio
import time

from orchestrator_fakes import FakeObserver

from sluicegate.observer.v1 import observer_pb2
from sluicegate_orchestrator.recorder import TraceRecorder


def _trace(number: int) -> observer_pb2.RequestTrace:
    return observer_pb2.RequestTrace(model=f"m{number}")


async def _until(condition, timeout_seconds: float = 5.0) -> None:
    async with asyncio.timeout(timeout_seconds):
        while not condition():
            await asyncio.sleep(0.005)


def _recording(batch_size: int, flush_seconds: float) -> tuple[FakeObserver, TraceRecorder, asyncio.Future]:
    """An observer, a recorder sending to it, and the recorder's sender, running."""
    observer = FakeObserver()
    recorder = TraceRecorder(observer, queue_size=100, batch_size=batch_size, flush_seconds=flush_seconds)
    return observer, recorder, asyncio.ensure_future(recorder.run())


async def _record_and_wait(recorder: TraceRecorder, traces: int, sent: int) -> float:
    """Records `traces` traces, one per turn of the event loop; the seconds until `sent` of them were sent."""
    started = time.monotonic()
    for number in range(traces):
        recorder.record(_trace(number))
        await asyncio.sleep(0)
    await _until(lambda: recorder.sent == sent)
    return time.monotonic() - started


async def test_a_full_batch_leaves_without_waiting_out_the_flush_interval() -> None:
    observer, recorder, sender = _recording(batch_size=5, flush_seconds=30.0)
    took = await _record_and_wait(recorder, traces=12, sent=10)
    assert took < 1.0
    assert [len(batch.traces) for batch in observer.batches] == [5, 5]
    assert [trace.model for batch in observer.batches for trace in batch.traces] == [f"m{n}" for n in range(10)]
    sender.cancel()


async def test_a_partial_batch_leaves_after_the_flush_interval() -> None:
    observer, recorder, sender = _recording(batch_size=50, flush_seconds=0.1)
    took = await _record_and_wait(recorder, traces=3, sent=3)
    assert 0.09 <= took < 1.0  # nothing left before the interval
    assert [len(batch.traces) for batch in observer.batches] == [3]
    sender.cancel()


async def test_traces_queued_while_a_batch_is_sent_leave_in_batches_no_larger_than_the_limit() -> None:
    observer = FakeObserver()
    recorder = TraceRecorder(observer, queue_size=100, batch_size=4, flush_seconds=0.05)
    for number in range(10):  # queued before the sender starts
        recorder.record(_trace(number))
    sender = asyncio.ensure_future(recorder.run())
    await _until(lambda: recorder.sent == 10)
    assert [len(batch.traces) for batch in observer.batches] == [4, 4, 2]
    sender.cancel()


async def test_a_batch_the_sender_held_when_cancelled_at_shutdown_is_sent_by_the_drain() -> None:
    # The server cancels background tasks before its cleanups drain: the trace the sender held is not lost.
    observer = FakeObserver()
    recorder = TraceRecorder(observer, queue_size=100, batch_size=200, flush_seconds=0.5)
    run = asyncio.ensure_future(recorder.run())
    for index in range(3):
        recorder.record(observer_pb2.RequestTrace(request_id=f"r{index}"))
    await asyncio.sleep(0.01)  # the sender holds the first trace and waits out the flush interval
    run.cancel()
    await asyncio.gather(run, return_exceptions=True)
    await recorder.drain()
    assert sorted(t.request_id for batch in observer.batches for t in batch.traces) == ["r0", "r1", "r2"]
    assert recorder.dropped == 0
