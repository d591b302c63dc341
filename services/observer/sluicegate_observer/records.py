"""TraceRecord: the part of a request trace the observer measures, plus the trace itself for decision records."""

from __future__ import annotations

from dataclasses import dataclass

OK_STATUS = "OK"
# What a summary, an alert or a label calls an empty tenant, model or deployment.
UNKNOWN = "unknown"
CACHE_HITS = frozenset({"hit_exact", "hit_semantic"})
# Outcomes where the cache was actually asked; "skipped" and "none" (no cache decision) were not lookups.
CACHE_LOOKUPS = frozenset({"miss", "hit_exact", "hit_semantic", "error"})


@dataclass(frozen=True, slots=True)
class GuardBlock:
    """One guard verdict that stopped a request: which side of the model, and the main finding's category."""

    stage: str
    category: str


@dataclass(frozen=True, slots=True)
class TraceRecord:
    """One gateway request as the observer keeps it. `timestamp` is epoch seconds (0 = unknown, set on ingest)."""

    request_id: str
    timestamp: float
    tenant: str
    model: str
    deployment: str
    duration_seconds: float
    ttft_seconds: float
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost_micros_usd: int
    status_code: str
    error_reason: str
    request_type: str
    cache_outcome: str
    guard_blocks: tuple[GuardBlock, ...]
    first_choice_model: str
    fallbacks: int
    serialized_trace: bytes
    # Budget buckets that metering reported past their soft threshold when this request reserved.
    budgets_past_soft_threshold: tuple[str, ...] = ()
    # (budget, share of its limit spent or reserved) for each limited bucket the request reserved on; the
    # budget is the bucket without its window's date ("tenant:acme:daily"), so it stays one series.
    budget_use: tuple[tuple[str, float], ...] = ()

    @property
    def is_error(self) -> bool:
        return self.status_code != OK_STATUS

    @property
    def is_cache_hit(self) -> bool:
        return self.cache_outcome in CACHE_HITS

    @property
    def is_cache_lookup(self) -> bool:
        return self.cache_outcome in CACHE_LOOKUPS
