"""The router's settings, read once at start-up from `ROUTER_*` environment variables."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from sluicegate.runtime.settings import ServiceSettings


class RouterSettings(ServiceSettings):
    """Where the catalog is, and how hard the router tries before it gives up on a deployment or a request."""

    model_config = SettingsConfigDict(env_prefix="ROUTER_")

    catalog_path: str = Field(default="deploy/catalog/mock.yaml", description="the model catalog (YAML)")
    attempts_per_deployment: int = Field(
        default=2, ge=1, le=10, description="calls to one deployment (first call plus retries) before falling back"
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
    ewma_alpha: float = Field(default=0.2, gt=0, le=1, description="weight of the newest call in the health averages")

    @model_validator(mode="after")
    def _cap_covers_base(self) -> RouterSettings:
        if self.backoff_cap_seconds < self.backoff_base_seconds:
            raise ValueError("backoff_cap_seconds must be at least backoff_base_seconds")
        return self
