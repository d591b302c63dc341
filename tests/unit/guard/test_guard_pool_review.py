"""Review of the scan worker pool: engine errors asyncio cannot carry, unpicklable calls, cancelled big frames,
a worker lost with a write pending, a failing engine factory, and a pool shared across event loops."""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import time
from collections.abc import AsyncIterator, Callable, Sequence

import pytest

from sluicegate_guard import pool as pool_module
from sluicegate_guard.engine import ScanOptions
from sluicegate_guard.pool import PoolScanner, ScanWorkerLost

BIG = "x" * 1_000_000  # far beyond a pipe's 64 KiB: the frame is written over several loop turns


class ReviewEngine:
    """Echoes each text; `stop` raises StopIteration (what a stray `next()` raises), `sleep <s>` sleeps first."""

    def scan(self, texts: Sequence[str], options: ScanOptions) -> list[tuple[int, str]]:
        for text in texts:
            if text == "stop":
                raise StopIteration
            if text.startswith("sleep "):
                time.sleep(float(text.split()[1]))
        return [(os.getpid(), text) for text in texts]


def failing_factory() -> ReviewEngine:
    raise RuntimeError("the engine cannot be built")


class Unpicklable(ScanOptions):
    """Options that cannot cross the pipe (a lambda holds them)."""

    def __init__(self) -> None:
        super().__init__()
        object.__setattr__(self, "hook", lambda: None)


@pytest.fixture
async def make_pool() -> AsyncIterator[Callable[..., PoolScanner]]:
    pools: list[PoolScanner] = []

    def make(workers: int = 1, factory: Callable = ReviewEngine) -> PoolScanner:
        pools.append(PoolScanner(factory, workers, stop_grace_seconds=2.0))
        return pools[-1]

    yield make
    for pool in pools:
        await pool.close()


async def test_an_engine_raising_stop_iteration_fails_its_call_instead_of_hanging_it(make_pool) -> None:
    # asyncio refuses StopIteration in Future.set_exception: the reply must still settle the call.
    pool = make_pool()
    with pytest.raises(RuntimeError, match="StopIteration"):
        await asyncio.wait_for(pool.scan(["stop"]), 10)
    assert (await pool.scan(["after"]))[0][1] == "after"


async def test_a_call_whose_options_cannot_be_pickled_fails_and_leaves_nothing_in_flight(make_pool) -> None:
    pool = make_pool()
    await pool.warm_up()
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        await pool.scan(["hello"], Unpicklable())
    # The pool balances on calls in flight: a call that never reached the worker must not count as one.
    assert [worker.in_flight for worker in pool._slots] == [0]
    assert (await pool.scan(["next"]))[0][1] == "next"


async def test_a_big_call_cancelled_mid_write_still_leaves_the_stream_in_step(make_pool) -> None:
    pool = make_pool()
    await pool.warm_up()
    for _ in range(3):
        call = asyncio.ensure_future(pool.scan([BIG]))
        await asyncio.sleep(0)  # the frame is partly written when its caller gives up
        call.cancel()
    assert await asyncio.wait_for(pool.scan(["next"]), 10) == [(await _pid(pool), "next")]


async def _pid(pool: PoolScanner) -> int:
    return (await pool.scan(["pid"]))[0][0]


async def test_a_worker_killed_with_a_write_pending_fails_both_calls_and_is_replaced(make_pool) -> None:
    pool = make_pool()
    pid = await _pid(pool)
    busy = asyncio.ensure_future(pool.scan(["sleep 30"]))
    pending = asyncio.ensure_future(pool.scan([BIG]))  # the worker is busy: the pipe fills, the rest waits
    await asyncio.sleep(0.2)
    os.kill(pid, signal.SIGKILL)
    for call in (busy, pending):
        with pytest.raises(ScanWorkerLost):
            await asyncio.wait_for(call, 5)
    answer = await asyncio.wait_for(pool.scan(["after"]), 10)
    assert answer[0][1] == "after" and answer[0][0] != pid


async def test_an_engine_factory_that_raises_fails_calls_promptly(make_pool) -> None:
    pool = make_pool(factory=failing_factory)
    # The worker says why before it exits: the caller (and the guard's log) get the reason, not just "it died".
    with pytest.raises(ScanWorkerLost, match="could not build its engine: RuntimeError.'the engine cannot be built'"):
        await asyncio.wait_for(pool.scan(["hello"]), 10)
    assert not await pool.ready()


async def test_workers_failing_at_start_up_are_restarted_after_a_growing_pause(make_pool, monkeypatch) -> None:
    started: list[int] = []
    spawn = pool_module._Worker.__init__

    def counting_spawn(worker, *args, **kwargs) -> None:
        spawn(worker, *args, **kwargs)
        started.append(worker.process.pid)

    monkeypatch.setattr(pool_module._Worker, "__init__", counting_spawn)
    pool = make_pool(factory=failing_factory)
    for _ in range(2):  # the first failure restarts at once, the second opens a pause
        with pytest.raises(ScanWorkerLost):
            await asyncio.wait_for(pool.scan(["hello"]), 10)
    for _ in range(5):  # during the pause: refused at once, no process started
        with pytest.raises(ScanWorkerLost, match="failed at start-up 2 times in a row .RuntimeError"):
            await asyncio.wait_for(pool.scan(["hello"]), 1)
        assert not await pool.ready()
    assert len(started) == 2
    await asyncio.sleep(pool_module.RESTART_BACKOFF_SECONDS + 0.1)
    with pytest.raises(ScanWorkerLost):
        await asyncio.wait_for(pool.scan(["hello"]), 10)
    assert len(started) == 3  # started again once the pause was over


async def test_a_worker_that_served_and_then_died_is_replaced_at_once(make_pool) -> None:
    pool = make_pool()
    for _ in range(3):
        first = await asyncio.wait_for(pool.scan(["hello"]), 10)
        os.kill(first[0][0], signal.SIGKILL)
        await asyncio.sleep(0.2)
    assert (await asyncio.wait_for(pool.scan(["again"]), 10))[0][1] == "again"


def test_a_pool_shared_across_event_loops_serves_each_after_the_last_left_a_call_behind() -> None:
    # As the guard's integration conftest does: one pool, one event loop per test, closed on yet another.
    pool = PoolScanner(ReviewEngine, 1, stop_grace_seconds=2.0)

    async def leave_a_call_behind() -> int:
        pid = await _pid(pool)
        asyncio.ensure_future(pool.scan(["sleep 0.3"]))
        asyncio.ensure_future(pool.scan([BIG]))  # still being written when this loop closes
        await asyncio.sleep(0)
        return pid

    async def scan_then_probe() -> list:
        answer = await asyncio.wait_for(pool.scan(["next"]), 10)
        await pool.ready()  # leaves a warm-up task on this loop as it closes
        return answer

    try:
        pid = asyncio.run(leave_a_call_behind())
        assert asyncio.run(scan_then_probe()) == [(pid, "next")]
        asyncio.run(asyncio.wait_for(pool.warm_up(), 10))
        assert asyncio.run(pool.ready())
    finally:
        asyncio.run(pool.close())
