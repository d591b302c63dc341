"""Metering's settings, read once from `METERING_*` environment variables."""

from __future__ import annotations

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import SettingsConfigDict

from sluicegate.runtime.settings import ServiceSettings
from sluicegate_metering.validation import id_problem


class MeteringSettings(ServiceSettings):
    """Where metering keeps its state, how it hashes keys and how long reservations live."""

    model_config = SettingsConfigDict(env_prefix="METERING_")

    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_max_connections: int = Field(default=64, gt=0)
    admin_token: SecretStr = Field(
        default=SecretStr(""), description="x-admin-token for admin RPCs; empty refuses them"
    )
    key_salt: SecretStr = Field(
        default=SecretStr(""), description="HMAC salt of key hashes; empty = one random salt persisted in Redis"
    )
    key_cache_seconds: float = Field(default=2.0, ge=0, le=10, description="how long a key lookup is reused")
    catalog_path: str = "deploy/catalog/mock.yaml"
    default_tenant_daily_micros_usd: int = Field(default=0, ge=0, description="daily budget of tenants without one")
    default_tenant_requests_per_minute: int = Field(default=0, ge=0, description="rpm of tenants without a limit")
    default_tenant_tokens_per_minute: int = Field(default=0, ge=0, description="tpm of tenants without a limit")
    reservation_ttl_seconds: int = Field(default=600, gt=0)
    reconcile_interval_seconds: float = Field(default=5.0, gt=0, description="how often expired reservations return")
    spend_retention_days: int = Field(default=400, gt=0, description="how long per-day spend aggregates are kept")
    bootstrap_key: SecretStr = Field(default=SecretStr(""), description="a secret created as a key at start")
    bootstrap_tenant: str = ""

    @field_validator("bootstrap_tenant")
    @classmethod
    def _bootstrap_needs_tenant(cls, tenant: str, info: ValidationInfo) -> str:
        # A field validator, not a model one: its error echoes only the tenant, never the secret key.
        bootstrap_key = info.data.get("bootstrap_key")
        if bootstrap_key is not None and bootstrap_key.get_secret_value() and not tenant:
            raise ValueError("is required when METERING_BOOTSTRAP_KEY is set")
        problem = id_problem(tenant)
        if problem:
            raise ValueError(problem)
        return tenant
