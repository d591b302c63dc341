"""The observer's settings, read once from `OBSERVER_*` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from sluicegate.runtime.settings import ServiceSettings


class ObserverSettings(ServiceSettings):
    """Where the observer listens, how much it keeps, how it bounds label cardinality and when it alerts."""

    model_config = SettingsConfigDict(env_prefix="OBSERVER_")

    admin_token: str = Field(default="", description="the x-admin-token query RPCs need; empty refuses them all")
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9464, ge=0, le=65535, description="HTTP /metrics and /healthz; 0 picks one")
    recent_traces: int = Field(default=10_000, gt=0, description="traces kept in memory for queries and alerts")
    max_batch_traces: int = Field(default=1_000, gt=0, description="largest RecordTraces batch accepted")
    max_tenant_labels: int = Field(default=50, ge=1, description="distinct tenant label values; later ones are 'other'")
    max_label_values: int = Field(
        default=100, ge=1, description="distinct model and guard-category label values; later ones are 'other'"
    )
    alert_interval_seconds: float = Field(default=5.0, gt=0)
    alert_window_seconds: float = Field(default=300.0, gt=0)
    alert_min_requests: int = Field(default=20, ge=1, description="fewer requests in the window never fire an alert")
    alert_p95_latency_seconds: float = Field(default=5.0, gt=0)
    alert_error_rate: float = Field(default=0.01, ge=0, le=1)
    alert_cache_hit_rate: float = Field(default=0.30, ge=0, le=1)
    alert_tokens_ratio: float = Field(default=2.0, gt=1, description="tokens per request over this x baseline fire")
    alert_baseline_seconds: float = Field(
        default=3600.0, gt=0, description="time constant of the rolling per-model tokens-per-request baseline"
    )
    alert_budget_micros_usd: int = Field(
        default=1_000_000_000, ge=0, description="spend budget per period; 0 turns the cost-per-request rule off"
    )
    alert_expected_requests: int = Field(default=100_000, gt=0, description="requests expected in that period")
    alert_resolve_margin: float = Field(
        default=0.1, ge=0, lt=1, description="a firing alert's value must be this fraction past its threshold"
    )
    alert_clean_evaluations: int = Field(default=3, ge=1, description="clean evaluations in a row that resolve")
    alert_webhook_url: str = Field(default="", description="Slack-compatible webhook for alert changes; empty: none")
    alert_webhook_timeout_seconds: float = Field(default=5.0, gt=0)
    alert_webhook_retries: int = Field(default=3, ge=0)
    alert_webhook_backoff_seconds: float = Field(default=1.0, ge=0)
