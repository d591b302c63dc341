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
    semantic_enabled: bool = Field(default=True, description="false serves exact hits only and loads no model")
    semantic_threshold: float = Field(
        default=0.86, gt=0, le=1, description="the tenants' default floor of cosine similarity for a semantic hit"
    )
    semantic_substitution_similarity: float = Field(
        default=0.90,
        gt=0,
        le=1,
        description="similarity two questions need when content words were swapped on both sides (gate.py)",
    )
    semantic_swap_similarity: float = Field(
        default=0.95,
        gt=0,
        le=1,
        description="similarity two questions need when one content word was replaced in place (gate.py)",
    )
    semantic_thresholds: dict[str, float] = Field(
        default_factory=dict, description='per-tenant floors, JSON: {"acme": 0.9}; they override the YAML file'
    )
    semantic_thresholds_file: str = Field(default="", description="YAML mapping of tenant id to floor")
    semantic_embed_threads: int = Field(default=1, gt=0, description="threads running the embedding model")
    semantic_max_question_words: int = Field(
        default=40,
        gt=0,
        description="longer questions are served by the exact layer only: embedding one costs about 0.2 ms a "
        "token (47 ms for 200), and the correctness gate is checked on questions of up to 13 words",
    )
    semantic_max_question_chars: int = Field(
        default=320,
        gt=0,
        description="longer questions are served by the exact layer only, whatever their word count: the "
        "embedding model reads 256 tokens at most, and 320 characters is 40 words at the densest of the "
        "labelled questions (8 characters a word)",
    )
    semantic_sync_check_seconds: float = Field(
        default=1.0, gt=0, description="how often a replica checks that its index has every change Redis made"
    )

    @model_validator(mode="after")
    def _default_ttl_within_cap(self) -> CacheSettings:
        if self.default_ttl_seconds > self.max_ttl_seconds:
            raise ValueError("CACHE_DEFAULT_TTL_SECONDS must not exceed CACHE_MAX_TTL_SECONDS")
        return self
