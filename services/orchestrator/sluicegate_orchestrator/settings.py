"""The orchestrator's settings: where the other services are, stage timeouts, request limits and failure policy."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from sluicegate.runtime.settings import ServiceSettings


class OrchestratorSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ORCHESTRATOR_")

    port: int = Field(default=50060, ge=0, le=65535)
    router_addr: str = "127.0.0.1:50061"
    guard_addr: str = "127.0.0.1:50062"
    cache_addr: str = "127.0.0.1:50063"
    metering_addr: str = "127.0.0.1:50064"
    observer_addr: str = "127.0.0.1:50065"
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", description="idempotency records")

    request_timeout_seconds: float = Field(default=120.0, gt=0, description="used when the client sets no deadline")
    control_timeout_seconds: float = Field(default=5.0, gt=0, description="cap for guard, cache and metering calls")
    cache_timeout_seconds: float = Field(default=0.5, gt=0, description="a slow cache is skipped, not waited for")

    guard_enabled: bool = True
    guard_fail_open: bool = Field(default=False, description="serve unscanned text when the guard fails (not advised)")
    cache_enabled: bool = True
    coalesce_identical: bool = Field(
        default=True, description="identical cacheable requests in flight at once share one provider call"
    )
    cache_refuse_injection_score: float = Field(
        default=0.5, ge=0, le=1, description="answers to prompts the guard scored this suspicious are not cached"
    )
    allow_downgrade: bool = True
    router_authorizes: bool = Field(
        default=True,
        description="a miss's budget is reserved by the router right before its provider call (one round trip and "
        "no Route call before it); off: the orchestrator routes and reserves, then calls the router",
    )
    speculative_authorize: bool = Field(
        # A plan beside the lookup saves a miss the route and reservation after it (0.7-1.5 ms one request at a
        # time), but costs every hit whose lookup outlasted the grace a Route, an Authorize and a Release: made only
        # for requests whose cache key this process has not seen answered (`answered_keys_remembered`).
        default=True,
        description="route and reserve while the cache is consulted, for requests not seen answered before; a hit "
        "returns the reservation",
    )
    answered_keys_remembered: int = Field(
        default=65_536,
        ge=0,
        description="how many cache keys seen answered (hit or stored) this process remembers, about 137 bytes each: a "
        "request with one is most likely a hit, and no plan is made beside its lookup (0: plan for every request)",
    )
    plan_grace_ms: float = Field(
        default=3.0,
        ge=0,
        description="how long after a cache probe started a miss's route and reservation wait for it to answer",
    )
    speculative_cache_lookup: bool = Field(
        default=True,
        description="look the request up in the cache while the guard scans it; used only if the guard changed nothing",
    )
    key_cache_seconds: float = Field(default=1.0, ge=0, description="how long an authenticated key is trusted here")
    canary_enabled: bool = Field(default=False, description="plant a per-request canary in the system prompt")

    max_messages: int = Field(default=256, gt=0)
    max_prompt_chars: int = Field(default=400_000, gt=0)
    max_tokens_limit: int = Field(default=65_536, gt=0)
    default_max_tokens: int = Field(default=1024, gt=0, description="reserved for when a request sets no max_tokens")

    usage_report_tokens: int = Field(
        default=256, ge=0, description="a stream reports its usage to metering every this many tokens (0: never)"
    )
    idempotency_ttl_seconds: int = Field(default=86_400, gt=0)
    idempotency_pending_seconds: int = Field(
        default=600,
        gt=0,
        description="how long a claimed key stays locked without an answer (longer than any request runs): a process "
        "that dies mid-request leaves its key locked this long, not for the answers' TTL",
    )
    observer_queue_size: int = Field(default=10_000, gt=0)
    observer_batch_size: int = Field(default=200, gt=0)
    observer_flush_seconds: float = Field(default=0.5, gt=0)
