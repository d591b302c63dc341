"""How late this process's event loop runs its timers: a cheap, portable measure of how busy the process is."""

from __future__ import annotations

import asyncio


class LoopLag:
    """A timer fires every `interval_seconds`; `seconds` is how late it has been firing, smoothed.

    A loop with time to spare fires it within a fraction of a millisecond. One that cannot keep up fires it late:
    its ready callbacks take longer than the interval, or the cores it shares are busy with other threads and
    processes (requests waiting in the server's queue, before any handler counts them, show up here too). The
    timer costs about 10 us a firing: 0.1% of a core at the default interval.
    """

    def __init__(self, interval_seconds: float = 0.01, smoothing: float = 0.3) -> None:
        self._interval_seconds = interval_seconds
        self._smoothing = smoothing
        self.seconds = 0.0

    async def run(self) -> None:
        """Measures until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self._interval_seconds
            await asyncio.sleep(self._interval_seconds)
            self.seconds += self._smoothing * (max(0.0, loop.time() - due) - self.seconds)
