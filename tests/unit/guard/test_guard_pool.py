"""The scan worker pool with real worker processes: answers, spreads, survives dead workers and cancellations, closes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence

import grpc
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sluicegate.runtime.errors import ServiceError
from sluicegate.runtime.redis import create_redis
from sluicegate_guard.engine import ScanOptions
from sluicegate_guard.guard import Guard
from sluicegate_guard.policy import GuardPolicy
from sluicegate_guard.pool import PoolScanner, ScanWorkerLost
from sluicegate_guard.vault import Vault


class EchoEngine:
    """Answers each text with (worker pid, text, options); `sleep <s>` sleeps first, `crash` kills the worker."""

    def scan(self, texts: Sequence[str], options: ScanOptions) -> list[tuple[int, str, ScanOptions]]:
        for text in texts:
            if text.startswith("sleep "):
                time.sleep(float(text.split()[1]))
            if text == "crash":
                os._exit(3)
            if text == "raise":
                raise ValueError("the engine refused")
        return [(os.getpid(), text, options) for text in texts]


@pytest.fixture
async def make_pool() -> AsyncIterator[Callable[..., PoolScanner]]:
    pools: list[PoolScanner] = []

    def make(
        workers: int = 1, stop_grace_seconds: float = 5.0, call_timeout_seconds: float | None = None
    ) -> PoolScanner:
        pools.append(PoolScanner(EchoEngine, workers, stop_grace_seconds, call_timeout_seconds))
        return pools[-1]

    yield make
    for pool in pools:
        await pool.close()


def _exists(pid: int) -> bool:
    """True while the process runs (a zombie nobody has reaped yet counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def _wait_ready(pool: PoolScanner, timeout_seconds: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not await pool.ready():
        assert time.monotonic() < deadline, "the pool never became ready"
        await asyncio.sleep(0.05)


async def test_a_scan_runs_in_a_worker_process_with_the_callers_texts_and_options(make_pool) -> None:
    pool = make_pool()
    options = ScanOptions(injection=False, ner=False)
    scans = await pool.scan(["first", "second"], options)
    pid = scans[0][0]
    assert pid != os.getpid()
    assert scans == [(pid, "first", options), (pid, "second", options)]


async def test_texts_larger_than_a_pipe_buffer_go_and_come_back_whole(make_pool) -> None:
    pool = make_pool()
    texts = [f"{index} " + "x" * 300_000 for index in range(3)]
    answers = await asyncio.gather(*(pool.scan([text]) for text in texts))
    assert [answer[0][1] for answer in answers] == texts


async def test_an_engine_exception_reaches_the_caller_and_the_worker_serves_on(make_pool) -> None:
    pool = make_pool()
    pid = (await pool.scan(["hello"]))[0][0]
    with pytest.raises(ValueError, match="the engine refused"):
        await pool.scan(["raise"])
    assert await pool.scan(["again"]) == [(pid, "again", ScanOptions())]


async def test_concurrent_calls_are_spread_over_the_workers_and_each_gets_its_own_answer(make_pool) -> None:
    pool = make_pool(workers=2)
    await pool.warm_up()
    assert await pool.ready()
    texts = [f"sleep 0.05 call-{index}" for index in range(8)]
    answers = await asyncio.gather(*(pool.scan([text]) for text in texts))
    assert [answer[0][1] for answer in answers] == texts
    assert len({answer[0][0] for answer in answers}) == 2


async def test_a_killed_worker_fails_its_call_at_once_and_a_warm_replacement_answers(make_pool) -> None:
    pool = make_pool()
    await pool.warm_up()
    pid = (await pool.scan(["hello"]))[0][0]
    call = asyncio.ensure_future(pool.scan(["sleep 30"]))
    await asyncio.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(ScanWorkerLost):
        await asyncio.wait_for(call, 5)
    assert not await pool.ready()
    await _wait_ready(pool)
    answer = await pool.scan(["after"])
    assert answer[0][1] == "after" and answer[0][0] != pid


async def test_a_cancelled_call_does_not_hand_its_answer_to_the_next_caller(make_pool) -> None:
    pool = make_pool()
    pid = (await pool.scan(["hello"]))[0][0]
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(pool.scan(["sleep 0.3"]), 0.05)
    assert await pool.scan(["next"]) == [(pid, "next", ScanOptions())]


async def test_a_stuck_worker_is_killed_at_the_call_timeout_and_replaced_so_the_next_scan_succeeds(make_pool) -> None:
    pool = make_pool(call_timeout_seconds=0.5)
    await pool.warm_up()
    pid = (await pool.scan(["hello"]))[0][0]
    stuck = asyncio.ensure_future(pool.scan(["sleep 60"]))
    queued = asyncio.ensure_future(pool.scan(["behind the stuck one"]))
    with pytest.raises(ScanWorkerLost, match="outlived the scan timeout"):
        await asyncio.wait_for(stuck, 10)
    with pytest.raises(ScanWorkerLost):  # the worker's other calls fail with it rather than wait for its successor
        await asyncio.wait_for(queued, 1)
    deadline = time.monotonic() + 5
    while _exists(pid) and time.monotonic() < deadline:  # killed at once, reaped by a thread
        await asyncio.sleep(0.02)
    assert not _exists(pid)
    assert not await pool.ready()
    await _wait_ready(pool)
    answer = await asyncio.wait_for(pool.scan(["next"]), 10)
    assert answer[0][1] == "next" and answer[0][0] != pid


async def test_the_pool_is_not_ready_while_a_worker_runs_past_its_deadline(make_pool) -> None:
    pool = make_pool(call_timeout_seconds=0.3)
    await _wait_ready(pool)
    loop = asyncio.get_running_loop()
    call = asyncio.ensure_future(pool.scan(["sleep 2"]))
    await asyncio.sleep(0.05)
    # The event loop is held up past the deadline (the kill has not run yet): readiness must already say so.
    await loop.run_in_executor(None, time.sleep, 0.4)
    assert not await pool.ready()
    with pytest.raises(ScanWorkerLost):
        await asyncio.wait_for(call, 5)


async def test_calls_whose_callers_gave_up_while_queued_never_run(make_pool) -> None:
    pool = make_pool()
    pid = (await pool.scan(["hello"]))[0][0]
    busy = asyncio.ensure_future(pool.scan(["sleep 0.3"]))
    ahead = asyncio.ensure_future(pool.scan(["sleep 0.2"]))  # sent to the worker behind the busy one (SENT_AHEAD)
    for _ in range(5):  # each would hold the worker for a minute if it ran
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(pool.scan(["sleep 60"]), 0.01)
    await asyncio.gather(busy, ahead)
    assert await asyncio.wait_for(pool.scan(["next"]), 10) == [(pid, "next", ScanOptions())]


async def test_a_call_sent_ahead_whose_caller_gave_up_is_bounded_by_the_timeout(make_pool) -> None:
    # The one call a worker holds behind the one it runs still runs when its caller goes: the watchdog bounds it.
    pool = make_pool(call_timeout_seconds=0.5)
    await pool.warm_up()
    busy = asyncio.ensure_future(pool.scan(["sleep 0.1"]))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(pool.scan(["sleep 60"]), 0.01)
    await busy
    with pytest.raises(ScanWorkerLost, match="outlived the scan timeout"):  # queued behind it: fails with it
        await asyncio.wait_for(pool.scan(["behind it"]), 10)
    await _wait_ready(pool)
    assert (await asyncio.wait_for(pool.scan(["next"]), 10))[0][1] == "next"


async def test_close_ends_every_worker_even_one_mid_scan(make_pool) -> None:
    pool = make_pool(workers=2, stop_grace_seconds=0.5)
    answers = await asyncio.gather(*(pool.scan([f"sleep 0.05 {index}"]) for index in range(4)))
    pids = {answer[0][0] for answer in answers}
    stuck = asyncio.ensure_future(pool.scan(["sleep 30"]))
    await asyncio.sleep(0.1)
    await asyncio.wait_for(pool.close(), 5)
    with pytest.raises(ScanWorkerLost):
        await stuck
    assert len(pids) == 2 and not any(_exists(pid) for pid in pids)
    with pytest.raises(RuntimeError, match="closed"):
        await pool.scan(["late"])


# A server that dies without closing its pool: the worker must notice its stdin closing and exit.
_ORPHANING_SERVER = """
import asyncio, os, sys
sys.path[:0] = {path!r}
from test_guard_pool import EchoEngine
from sluicegate_guard.pool import PoolScanner

async def main():
    pool = PoolScanner(EchoEngine)
    print((await pool.scan(["hello"]))[0][0], flush=True)
    os._exit(0)

asyncio.run(main())
"""


async def test_a_worker_exits_when_its_server_dies_without_closing_the_pool() -> None:
    script = _ORPHANING_SERVER.format(path=[os.path.dirname(__file__)])
    server = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # the worker inherits stderr: waiting for it to close would wait for the worker
        text=True,
        timeout=60,
        check=True,
    )
    pid = int(server.stdout.split()[0])
    deadline = time.monotonic() + 10
    while _exists(pid) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not _exists(pid)


async def test_the_guard_fails_closed_when_its_scan_worker_dies(make_pool) -> None:
    # The scan fails before the vault is needed, so its Redis is never reached.
    redis = create_redis("redis://127.0.0.1:1/0", timeout_seconds=0.2)
    guard = Guard(make_pool(), Vault(redis, AESGCM.generate_key(bit_length=256), 60), GuardPolicy(), 5)
    with pytest.raises(ServiceError) as caught:
        await guard.inspect_input("acme", [["crash"]])
    assert (caught.value.code, caught.value.reason) == (grpc.StatusCode.UNAVAILABLE, "GUARD_UNAVAILABLE")
    await redis.aclose()
