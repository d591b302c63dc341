"""How a provider call failed, and what the router does about each kind of failure."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass

from sluicegate.common.v1 import decision_pb2

# Worth calling the same deployment again, then the next one: the provider may be fine a moment later.
RETRYABLE = frozenset(
    {
        decision_pb2.ATTEMPT_OUTCOME_RATE_LIMITED,
        decision_pb2.ATTEMPT_OUTCOME_SERVER_ERROR,
        decision_pb2.ATTEMPT_OUTCOME_TIMEOUT,
        decision_pb2.ATTEMPT_OUTCOME_CONNECTION_ERROR,
        decision_pb2.ATTEMPT_OUTCOME_STREAM_CUT,
    }
)
# The chain failed for now, and may not later: these make the whole chain UNAVAILABLE rather than a refusal.
TRANSIENT = RETRYABLE | {decision_pb2.ATTEMPT_OUTCOME_CIRCUIT_OPEN}
# The request itself (or the gateway's credentials) is wrong: no other deployment will answer differently.
REJECTED = frozenset({decision_pb2.ATTEMPT_OUTCOME_BAD_REQUEST, decision_pb2.ATTEMPT_OUTCOME_AUTH_ERROR})
# This deployment refuses the request, another may take it (a larger window, another content policy),
# but calling the same one again would fail the same way.
REFUSED = frozenset({decision_pb2.ATTEMPT_OUTCOME_CONTEXT_WINDOW_EXCEEDED, decision_pb2.ATTEMPT_OUTCOME_CONTENT_POLICY})


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed provider call, classified."""

    outcome: int
    http_status: int = 0
    retry_after_seconds: float | None = None
    message: str = ""
    # False when the call was cut short by the client's own deadline, not by anything the deployment did: the
    # attempt is recorded, but the deployment's health figures and circuit breaker do not count it.
    counts_against_deployment: bool = True

    @property
    def retryable(self) -> bool:
        return self.outcome in RETRYABLE

    @property
    def transient(self) -> bool:
        return self.outcome in TRANSIENT

    @property
    def rejected(self) -> bool:
        return self.outcome in REJECTED


def outcome_for_status(status: int) -> int:
    """The attempt outcome an HTTP error status stands for."""
    if status == 429:
        return decision_pb2.ATTEMPT_OUTCOME_RATE_LIMITED
    if status in (408, 504):
        return decision_pb2.ATTEMPT_OUTCOME_TIMEOUT
    if status >= 500:
        return decision_pb2.ATTEMPT_OUTCOME_SERVER_ERROR
    if status in (401, 403):
        return decision_pb2.ATTEMPT_OUTCOME_AUTH_ERROR
    return decision_pb2.ATTEMPT_OUTCOME_BAD_REQUEST


def retry_after_seconds(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """The wait a provider asked for: `retry-after-ms`, or `retry-after` in seconds or as an HTTP date."""
    if not headers:
        return None
    lowered = {key.lower(): value for key, value in headers.items()}
    milliseconds = lowered.get("retry-after-ms")
    if milliseconds is not None:
        try:
            return max(float(milliseconds) / 1000, 0.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)
