"""Circuit breakers per deployment: stop calling a deployment that keeps failing, probe it again after a cooldown."""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


class BreakerState(enum.Enum):
    """CLOSED lets calls through; OPEN skips the deployment; HALF_OPEN lets one probe call through."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When a breaker opens and how long it stays open."""

    consecutive_failures: int = 5
    error_rate: float = 0.5
    window_seconds: float = 30.0
    min_calls_in_window: int = 10
    cooldown_seconds: float = 10.0


@dataclass(slots=True)
class _Breaker:
    state: BreakerState = BreakerState.CLOSED
    consecutive_failures: int = 0
    opened_at: float = 0.0
    probe_started_at: float | None = None
    # (time, failed) of the calls within the window, oldest first.
    recent: deque[tuple[float, bool]] = field(default_factory=deque)


class CircuitBreakers:
    """One breaker per deployment name.

    A breaker opens after `consecutive_failures` failures in a row, or when at least `min_calls_in_window` calls
    in the last `window_seconds` failed at `error_rate` or more. While open, the deployment is skipped. After
    `cooldown_seconds` one probe call goes through (HALF_OPEN): its success closes the breaker, its failure opens
    it for another cooldown. A probe that never reports (its client left) frees the slot after a cooldown.
    Only failures that say the deployment is unwell count (5xx, 429, timeouts, connection errors, cut streams);
    an answer refusing the request shows the deployment is up.
    """

    def __init__(self, policy: BreakerPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self._policy = policy
        self._clock = clock
        self._breakers: dict[str, _Breaker] = {}

    def allow(self, deployment: str) -> bool:
        """Whether a call may go to the deployment now; a True in HALF_OPEN makes this call the probe."""
        breaker = self._breakers.get(deployment)
        if breaker is None or breaker.state is BreakerState.CLOSED:
            return True
        now = self._clock()
        cooldown = self._policy.cooldown_seconds
        if breaker.state is BreakerState.OPEN:
            if now - breaker.opened_at < cooldown:
                return False
            breaker.state = BreakerState.HALF_OPEN
        elif breaker.probe_started_at is not None and now - breaker.probe_started_at < cooldown:
            return False
        breaker.probe_started_at = now
        return True

    def retry_after_seconds(self, deployment: str) -> float:
        """How long until the deployment's breaker lets a probe through (0 when it would now)."""
        breaker = self._breakers.get(deployment)
        if breaker is None or breaker.state is BreakerState.CLOSED:
            return 0.0
        since = breaker.opened_at if breaker.state is BreakerState.OPEN else (breaker.probe_started_at or 0.0)
        return max(self._policy.cooldown_seconds - (self._clock() - since), 0.0)

    def record_success(self, deployment: str) -> None:
        breaker = self._breakers.setdefault(deployment, _Breaker())
        if breaker.state is not BreakerState.CLOSED:
            self._breakers[deployment] = _Breaker()
            return
        breaker.consecutive_failures = 0
        self._remember(breaker, failed=False)

    def record_failure(self, deployment: str) -> None:
        breaker = self._breakers.setdefault(deployment, _Breaker())
        if breaker.state is not BreakerState.CLOSED:
            self._open(breaker)
            return
        breaker.consecutive_failures += 1
        self._remember(breaker, failed=True)
        policy = self._policy
        calls = len(breaker.recent)
        failures = sum(1 for _, failed in breaker.recent if failed)
        if breaker.consecutive_failures >= policy.consecutive_failures or (
            calls >= policy.min_calls_in_window and failures >= policy.error_rate * calls
        ):
            self._open(breaker)

    def state(self, deployment: str) -> BreakerState:
        """The state as a caller would meet it now: an OPEN breaker past its cooldown reports HALF_OPEN."""
        breaker = self._breakers.get(deployment)
        if breaker is None:
            return BreakerState.CLOSED
        if breaker.state is BreakerState.OPEN and self._clock() - breaker.opened_at >= self._policy.cooldown_seconds:
            return BreakerState.HALF_OPEN
        return breaker.state

    def _open(self, breaker: _Breaker) -> None:
        breaker.state = BreakerState.OPEN
        breaker.opened_at = self._clock()
        breaker.probe_started_at = None
        breaker.consecutive_failures = 0
        breaker.recent.clear()

    def _remember(self, breaker: _Breaker, failed: bool) -> None:
        now = self._clock()
        recent = breaker.recent
        recent.append((now, failed))
        horizon = now - self._policy.window_seconds
        while recent and recent[0][0] < horizon:
            recent.popleft()
