"""A retry budget: retries may be at most a share of calls, so a struggling provider is not hit harder by retries."""

from __future__ import annotations

import time
from collections.abc import Callable


class RetryBudget:
    """Every first call earns `ratio` of a retry; every retry spends one. A small floor (`floor_per_second`) keeps
    retries possible at low traffic; the balance never exceeds `max_balance`, so a quiet spell cannot bank an
    unbounded burst. When the budget is spent a retryable failure falls back to the next deployment at once."""

    def __init__(
        self,
        ratio: float = 0.2,
        floor_per_second: float = 5.0,
        max_balance: float = 50.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ratio = ratio
        self._floor_per_second = floor_per_second
        self._max_balance = max_balance
        self._clock = clock
        self._balance = max_balance
        self._updated = clock()

    def record_call(self) -> None:
        self._refill()
        self._balance = min(self._max_balance, self._balance + self._ratio)

    def try_retry(self) -> bool:
        self._refill()
        if self._balance < 1:
            return False
        self._balance -= 1
        return True

    def refund(self) -> None:
        """Gives back a retry taken for a retry that was not made after all (its deployment was at its limit)."""
        self._balance = min(self._max_balance, self._balance + 1)

    def _refill(self) -> None:
        now = self._clock()
        self._balance = min(self._max_balance, self._balance + (now - self._updated) * self._floor_per_second)
        self._updated = now
