"""The event loop's lateness: near zero while the loop keeps up, and as late as a callback that holds it."""

from __future__ import annotations

import asyncio
import contextlib
import time

from sluicegate.runtime.loop_lag import LoopLag


async def test_an_idle_loop_runs_its_timer_on_time_and_a_blocked_one_late() -> None:
    lag = LoopLag(interval_seconds=0.005, smoothing=1.0)
    measuring = asyncio.ensure_future(lag.run())
    try:
        await asyncio.sleep(0.05)
        assert lag.seconds < 0.02  # a fraction of a millisecond, with room for a busy test machine
        time.sleep(0.08)  # a callback that holds the loop for 80 ms
        await asyncio.sleep(0.001)
        assert lag.seconds > 0.05
        await asyncio.sleep(0.05)
        assert lag.seconds < 0.02  # it keeps up again
    finally:
        measuring.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await measuring
