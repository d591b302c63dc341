"""The router's settings, read once at start-up from `ROUTER_*` environment variables."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from sluicegate.common.v1 import decision_pb2
from sluicegate.runtime.settings import ServiceSettings
from sluicegate_router.breaker import BreakerPolicy
from sluicegate_router.openai_http import DEFAULT_LEAN_PROVIDERS
from sluicegate_router.policies import PolicyName


class RouterSettings(ServiceSettings):
    """Where the catalog is, and how hard the router tries before it gives up on a deployment or a request."""

    model_config = SettingsConfigDict(env_prefix="ROUTER_")

    catalog_path: str = Field(default="deploy/catalog/mock.yaml", description="the model catalog (YAML)")
    metering_addr: str = Field(
        default="127.0.0.1:50064",
        description="metering, for calls that ask the router to reserve their budget; empty: such calls are refused",
    )
    metering_timeout_seconds: float = Field(
        default=5.0, gt=0, description="cap for an Authorize or Release call to metering"
    )
    metrics_port: int | None = Field(
        default=None, ge=0, le=65535, description="Prometheus /metrics (breakers, health) on this port; unset: off"
    )
    attempts_per_deployment: int = Field(
        default=2, ge=1, le=10, description="calls to one deployment (first call plus retries) before falling back"
    )
    retry_budget_ratio: float = Field(
        default=0.2, ge=0, le=1, description="retries allowed per first call, across all requests (a retry budget)"
    )
    retry_budget_floor_per_second: float = Field(
        default=5.0, ge=0, description="retries per second always allowed, so low traffic can still retry"
    )
    backoff_base_seconds: float = Field(
        default=0.1, ge=0, description="full-jitter backoff: first retry waits up to this"
    )
    backoff_cap_seconds: float = Field(default=2.0, ge=0, description="full-jitter backoff: no retry waits longer")
    max_retry_after_seconds: float = Field(
        default=2.0,
        ge=0,
        description="longest provider Retry-After honoured before a retry; longer ones fall back at once",
    )
    default_retry_after_seconds: float = Field(
        default=1.0, gt=0, description="RetryInfo delay when the whole chain failed and no provider named one"
    )
    max_request_seconds: float = Field(default=300.0, gt=0, description="bound on a call whose client set no deadline")
    min_attempt_seconds: float = Field(
        default=0.05, ge=0, description="no provider call starts with less time than this left before the deadline"
    )
    reload_on_sighup: bool = Field(
        default=True, description="SIGHUP reloads the catalog file; calls in flight finish on the old one"
    )
    count_prompt_tokens: bool = Field(
        default=True,
        description="count Route's prompt_tokens with litellm's token counter (imports litellm at start-up, in a "
        "worker thread; readiness waits for it); off: the character heuristic",
    )
    token_count_inline_max_tokens: int = Field(
        # Measured (bench_token_count.py): ~0.1 ms for 2,000 characters (~500 tokens), ~1 ms for 20,000; a thread
        # hop costs ~0.1 ms, so only prompts above ~4,000 characters are worth moving off the event loop.
        default=1000,
        ge=0,
        description="prompts estimated below this many tokens are counted on the event loop, longer ones in a "
        "worker thread",
    )
    learned_classifier: bool = Field(
        default=True,
        description="classify auto-routed prompts with the embedding classifier (the keyword rules when off, "
        "while it loads, or when it is unsure)",
    )
    complexity_model_path: str = Field(
        default="", description="the classifier's trained weights (.npz); empty: the ones shipped in the package"
    )
    default_policy: PolicyName = Field(
        default="tier_map", description="routing policy for calls that name none (call.policy)"
    )
    tenant_policies: dict[str, PolicyName] = Field(
        default_factory=dict,
        description='routing policy per tenant id, as JSON ({"acme": "cheapest"}); call.policy overrides it',
    )
    cost_estimate_completion_tokens: int = Field(
        default=256, ge=1, description="completion tokens the cheapest policy assumes when a call sets no max_tokens"
    )
    lean_providers: str = Field(
        default=",".join(DEFAULT_LEAN_PROVIDERS),
        description="litellm providers called over the lean OpenAI-compatible client (comma-separated; empty: "
        "litellm calls every deployment)",
    )
    http_max_connections: int = Field(default=200, ge=1, description="lean client: connections open at most")
    http_keepalive_expiry_seconds: float = Field(
        default=30.0, ge=0, description="lean client: how long an idle connection is kept"
    )
    breaker_consecutive_failures: int = Field(
        default=5, ge=1, description="failures in a row that open a deployment's circuit breaker"
    )
    breaker_error_rate: float = Field(
        default=0.5, gt=0, le=1, description="share of failed calls within the window that opens the breaker"
    )
    breaker_window_seconds: float = Field(default=30.0, gt=0, description="the window the error rate is taken over")
    breaker_min_calls: int = Field(
        default=10, ge=1, description="calls within the window before the error rate can open the breaker"
    )
    breaker_cooldown_seconds: float = Field(
        default=10.0, gt=0, description="how long an open breaker skips its deployment before one probe call"
    )
    hedge_quantile: float = Field(
        default=0.0,
        ge=0,
        lt=1,
        description="hedge plain calls after this quantile of the deployment's recent latencies, streams after this "
        "quantile of its recent times to first token (0.9: p90); 0: off",
    )
    hedge_min_samples: int = Field(
        default=20,
        ge=1,
        description="successful calls (streams, for streams) a deployment needs before its quantile is trusted",
    )
    fallback_on_context_window: str = Field(
        default="*",
        description="logical models (comma-separated; *: all, empty: none) whose deployments' context-window "
        "refusals fall back to the next deployment; a refusal of any other ends the call",
    )
    fallback_on_content_policy: str = Field(
        default="*",
        description="logical models (comma-separated; *: all, empty: none) whose deployments' content-policy "
        "refusals fall back to the next deployment; a refusal of any other ends the call",
    )
    redis_url: str = Field(
        default="",
        description="Redis that keeps the deployments' rpm / tpm counts shared by every replica; empty: each "
        "replica counts its own calls",
    )
    redis_timeout_seconds: float = Field(
        default=0.25,
        gt=0,
        description="an admit that waits longer on Redis is counted by this replica alone (the call goes on)",
    )
    redis_max_connections: int = Field(default=32, gt=0, description="connections to that Redis at most")
    ewma_alpha: float = Field(default=0.2, gt=0, le=1, description="weight of the newest call in the health averages")

    @property
    def breaker_policy(self) -> BreakerPolicy:
        return BreakerPolicy(
            consecutive_failures=self.breaker_consecutive_failures,
            error_rate=self.breaker_error_rate,
            window_seconds=self.breaker_window_seconds,
            min_calls_in_window=self.breaker_min_calls,
            cooldown_seconds=self.breaker_cooldown_seconds,
        )

    @property
    def lean_provider_names(self) -> frozenset[str]:
        return _names(self.lean_providers)

    @property
    def refusal_fallbacks(self) -> dict[int, frozenset[str]]:
        """Per refusal outcome, the logical models whose refusals of that kind fall back ("*": every model)."""
        return {
            decision_pb2.ATTEMPT_OUTCOME_CONTEXT_WINDOW_EXCEEDED: _names(self.fallback_on_context_window),
            decision_pb2.ATTEMPT_OUTCOME_CONTENT_POLICY: _names(self.fallback_on_content_policy),
        }

    @model_validator(mode="after")
    def _cap_covers_base(self) -> RouterSettings:
        if self.backoff_cap_seconds < self.backoff_base_seconds:
            raise ValueError("backoff_cap_seconds must be at least backoff_base_seconds")
        return self


def _names(comma_separated: str) -> frozenset[str]:
    return frozenset(name.strip() for name in comma_separated.split(",") if name.strip())
