"""The catalog's per-deployment requests- and tokens-per-minute limits, kept by each router replica."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from sluicegate.catalog import Deployment

WINDOW_SECONDS = 60.0


class DeploymentLimits:
    """Counts each deployment's calls and tokens over the last minute against its `rpm` / `tpm` (0: no limit).

    A deployment at its limit is skipped for the next one in the chain instead of being sent a call the provider
    would refuse with 429. Counts are per router replica: with N replicas, set the catalog's limits to 1/N of the
    provider's, or rely on the provider's 429 (which the chain also handles).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._calls: dict[str, deque[tuple[float, int]]] = {}
        self._tokens: dict[str, int] = {}

    def admit(self, deployment: Deployment, tokens: int) -> float | None:
        """Counts the call and returns None when it fits; otherwise counts nothing and returns the seconds until
        the oldest call in the window leaves it."""
        if not deployment.rpm and not deployment.tpm:
            return None
        now = self._clock()
        calls = self._calls.setdefault(deployment.name, deque())
        used = self._tokens.get(deployment.name, 0)
        while calls and calls[0][0] <= now - WINDOW_SECONDS:
            used -= calls.popleft()[1]
        over_requests = deployment.rpm and len(calls) >= deployment.rpm
        over_tokens = deployment.tpm and used + tokens > deployment.tpm
        self._tokens[deployment.name] = used
        if over_requests or over_tokens:
            return calls[0][0] + WINDOW_SECONDS - now if calls else WINDOW_SECONDS
        calls.append((now, tokens))
        self._tokens[deployment.name] = used + tokens
        return None
