"""What the pipeline learns about one request (it becomes the decision record and the trace), and a miss's plan."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from sluicegate.cache.v1 import cache_pb2
from sluicegate.common.v1 import chat_pb2, decision_pb2
from sluicegate.gateway.v1 import gateway_pb2
from sluicegate.metering.v1 import metering_pb2

ChatLike = gateway_pb2.ChatRequest | gateway_pb2.ChatStreamRequest


@dataclass
class RequestState:
    """Everything the pipeline learns about one request; it becomes the decision record and the trace."""

    request: ChatLike
    request_type: int
    started: float
    decision: decision_pb2.DecisionRecord
    principal: chat_pb2.Principal = field(default_factory=chat_pb2.Principal)
    messages: list[chat_pb2.Message] = field(default_factory=list)
    restore_handle: str = ""
    canary: str = ""
    model: str = ""
    deployment: str = ""
    cache_key: cache_pb2.CacheKey | None = None
    # The cache's embedding of the question (float32 bytes) when its lookup computed one.
    question_embedding: bytes = b""
    reservation_id: str = ""
    usage: chat_pb2.Usage = field(default_factory=chat_pb2.Usage)
    cost_micros_usd: int = 0
    ttft_ms: float = 0.0
    status_code: str = "OK"
    error_reason: str = ""
    guard_flagged: bool = False
    provider_called: bool = False
    # Names this request's claim on its idempotency key (set before the claim is sent, cleared once the answer is
    # stored): a failure gives the key back with it, never another attempt's claim.
    idempotency_token: str = ""

    @contextmanager
    def stage(self, name: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.record_stage(name, started, time.perf_counter())

    def record_stage(self, name: str, started: float, ended: float) -> None:
        """Adds a stage timed elsewhere (`time.perf_counter()` readings) to the decision record."""
        self.decision.stages.add(
            stage=name, duration_ms=(ended - started) * 1000, start_offset_ms=(started - self.started) * 1000
        )


@dataclass
class Plan:
    """What routing and metering decided for a cache miss: the dry-run route ("auto" only) and the reservation."""

    route: decision_pb2.RouteDecision | None
    reservation: metering_pb2.AuthorizeResponse
    model: str


@dataclass
class CacheProbe:
    """One cache lookup: the cache's response (None when the cache could not answer) and when it ran."""

    response: cache_pb2.LookupResponse | None
    started: float
    ended: float
