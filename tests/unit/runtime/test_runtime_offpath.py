"""Work after an answer: it starts only after the delay, drain waits for all of it, and a failure stops nothing else."""

from __future__ import annotations

import asyncio
import gc
import warnings

import structlog

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


async def test_work_cancelled_before_it_started_is_closed_without_a_warning() -> None:
    off_path = OffPathWork(delay_seconds=10)

    async def settle() -> None:
        raise AssertionError("never runs")

    off_path.start(settle())
    await asyncio.sleep(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for task in asyncio.all_tasks():
            if task is not asyncio.current_task():
                task.cancel()
        await off_path.drain()
        gc.collect()
    assert not [warning for warning in caught if "never awaited" in str(warning.message)]


async def test_work_that_does_not_follow_an_answer_starts_at_once() -> None:
    off_path = OffPathWork(delay_seconds=10)
    started: list[str] = []

    async def report() -> None:
        started.append("report")

    off_path.start(report(), at_once=True)
    await asyncio.sleep(0.01)
    assert started == ["report"]
