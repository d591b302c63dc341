"""Work after an answer: it starts only after the delay, drain waits for all of it, and a failure stops nothing else."""

from __future__ import annotations

import asyncio
import inspect
import time

import structlog

from sluicegate.runtime.context import deadline_var, remaining_seconds, request_id_var
from sluicegate.runtime.offpath import OffPathWork


async def test_work_starts_after_the_delay_not_when_it_is_handed_over() -> None:
    off_path = OffPathWork(delay_seconds=0.05)
    started: list[float] = []
    loop = asyncio.get_running_loop()

    async def settle() -> None:
        started.append(loop.time())

    handed_over = loop.time()
    off_path.start(settle())
    await asyncio.sleep(0.01)
    assert started == []  # the loop has come round several times: the work still waits
    await off_path.drain()
    assert started and started[0] - handed_over >= 0.045


async def test_drain_waits_for_work_not_yet_started_and_work_handed_over_meanwhile() -> None:
    off_path = OffPathWork(delay_seconds=0.02)
    done: list[str] = []

    async def store() -> None:
        done.append("store")
        off_path.start(record())  # handed over while draining

    async def record() -> None:
        done.append("record")

    off_path.start(store())
    await off_path.drain()
    assert done == ["store", "record"] and len(off_path) == 0


async def test_a_failure_is_logged_and_the_other_work_still_runs() -> None:
    off_path = OffPathWork(delay_seconds=0)
    done: list[str] = []

    async def broken() -> None:
        raise ConnectionError("metering went away")

    async def settle() -> None:
        done.append("settled")

    with structlog.testing.capture_logs() as logs:
        off_path.start(broken())
        off_path.start(settle())
        await off_path.drain()
    assert done == ["settled"]
    assert [(log["event"], log["error"]) for log in logs] == [("work after an answer failed", "ConnectionError")]


async def test_work_cancelled_before_it_started_is_closed_not_left_unawaited() -> None:
    off_path = OffPathWork(delay_seconds=10)

    async def settle() -> None:
        raise AssertionError("never runs")

    work = settle()
    off_path.start(work)
    await asyncio.sleep(0)
    for task in asyncio.all_tasks():
        if task.get_coro().__qualname__ == "OffPathWork._after_delay":  # as at shutdown, before it started
            task.cancel()
    await off_path.drain()

    # Closed: Python would otherwise warn, when it is collected, that it was never awaited.
    assert inspect.getcoroutinestate(work) == inspect.CORO_CLOSED


async def test_work_that_does_not_follow_an_answer_starts_at_once() -> None:
    off_path = OffPathWork(delay_seconds=10)
    started: list[str] = []

    async def report() -> None:
        started.append("report")

    off_path.start(report(), at_once=True)
    await asyncio.sleep(0.01)
    assert started == ["report"]


async def test_work_keeps_the_requests_context_but_not_its_deadline() -> None:
    # A settlement handed over as the client's deadline ran out still gets its own timeout, not the 1 ms floor.
    work = OffPathWork(delay_seconds=0.001)
    seen = []

    async def settle() -> None:
        seen.append((request_id_var.get(), remaining_seconds(5.0)))

    request_id_var.set("req-1")
    deadline_var.set(time.monotonic() - 1)  # already past
    work.start(settle())
    work.start(settle(), at_once=True)
    await work.drain()
    assert seen == [("req-1", 5.0), ("req-1", 5.0)]
    assert remaining_seconds(5.0) == 0.001  # the request itself is still past its deadline
