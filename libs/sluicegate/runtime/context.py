"""Request-scoped values carried in contextvars: the request id, the caller's deadline and the serving service."""

from __future__ import annotations

import time
from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="")

# The service serving the current call, where one process hosts several (co-located): its log lines say so.
service_var: ContextVar[str] = ContextVar("service", default="")

# The absolute time (time.monotonic) by which the current request must be answered.
deadline_var: ContextVar[float | None] = ContextVar("deadline", default=None)


def remaining_seconds(default: float, floor: float = 0.001) -> float:
    """Time left until the current request's deadline (capped at `default`), for a downstream call's timeout."""
    deadline = deadline_var.get()
    if deadline is None:
        return default
    return max(min(deadline - time.monotonic(), default), floor)
