"""Which answers may be stored, and for how long."""

from __future__ import annotations

from dataclasses import dataclass

from sluicegate.cache.v1 import cache_pb2
from sluicegate.common.v1 import chat_pb2

# Reasons a Store is skipped: stable strings the orchestrator copies into CacheDecision.store_skipped_reason.
NO_STORE = "no_store"
GUARD_FLAGGED = "guard_flagged"
EMPTY_ANSWER = "empty_answer"
NOT_FINISHED = "not_finished"
HIGH_TEMPERATURE = "high_temperature"
TOO_LARGE = "too_large"


@dataclass(frozen=True)
class StorePolicy:
    """The store rules and the time-to-live bounds, from settings."""

    default_ttl_seconds: int
    max_ttl_seconds: int
    max_bytes_per_entry: int
    max_temperature: float

    def refusal(
        self,
        params: chat_pb2.GenerationParams,
        control: chat_pb2.CacheControl,
        answer: cache_pb2.CachedAnswer,
        guard_flagged: bool,
    ) -> str | None:
        """Why the answer must not be stored, or None when it may be."""
        if control.no_store:
            return NO_STORE
        if guard_flagged:
            return GUARD_FLAGGED
        if not answer.text.strip():
            return EMPTY_ANSWER
        # A cut-off answer (length, content filter) or a request for tool calls is not a reusable answer.
        if answer.finish_reason != chat_pb2.FINISH_REASON_STOP:
            return NOT_FINISHED
        # A caller who samples hot asks for variety: replaying one sample to every repeat would defeat that.
        # Unset temperature means the provider default (1.0 for the major providers), which is allowed.
        if params.HasField("temperature") and params.temperature > self.max_temperature:
            return HIGH_TEMPERATURE
        return None

    def fits(self, payload_bytes: int) -> bool:
        return payload_bytes <= self.max_bytes_per_entry

    def ttl_seconds(self, control: chat_pb2.CacheControl) -> int:
        """The request's ttl_seconds, else the default; never above the maximum."""
        requested = control.ttl_seconds if control.ttl_seconds > 0 else self.default_ttl_seconds
        return min(requested, self.max_ttl_seconds)
