"""The cache's settings, read once from `CACHE_*` environment variables."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from sluicegate.runtime.settings import ServiceSettings


class CacheSettings(ServiceSettings):
    """Redis, time to live, per-tenant limits and the store rules."""

    model_config = SettingsConfigDict(env_prefix="CACHE_")

    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_timeout_seconds: float = Field(
        default=0.5, gt=0, description="a lookup that waits longer on Redis fails UNAVAILABLE and is served uncached"
    )
    redis_max_connections: int = Field(default=64, gt=0)
    default_ttl_seconds: int = Field(default=3600, gt=0, description="entry lifetime when the request sets none")
    max_ttl_seconds: int = Field(default=86_400, gt=0, description="cap on any entry's lifetime")
    max_entries_per_tenant: int = Field(default=10_000, gt=0, description="beyond it the least recently used go")
    max_bytes_per_entry: int = Field(default=256 * 1024, gt=0, description="larger answers are not stored")
    max_temperature: float = Field(default=1.0, ge=0, description="answers sampled hotter are not stored")

    @model_validator(mode="after")
    def _default_ttl_within_cap(self) -> CacheSettings:
        if self.default_ttl_seconds > self.max_ttl_seconds:
            raise ValueError("CACHE_DEFAULT_TTL_SECONDS must not exceed CACHE_MAX_TTL_SECONDS")
        return self
