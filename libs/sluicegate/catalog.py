"""The model catalog: logical models, their deployments, capabilities and prices, loaded from YAML.

Shared by the router (which deployment to call) and metering (what a call costs), so both always
agree on prices. Money is integer micro-USD: prices are kept per million tokens in micro-USD.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import math
import os
import random
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Tier = Literal["simple", "medium", "complex", "creative"]
TIERS: tuple[Tier, ...] = ("simple", "medium", "complex", "creative")
MICROS_PER_USD = 1_000_000
TOKENS_PER_MTOK = 1_000_000

_ENV_REF = re.compile(r"\$\{([A-Z0-9_]+)(?::-([^}]*))?\}")


class CatalogError(ValueError):
    """The catalog is invalid; the message names the bad entry."""


class Price(BaseModel):
    """USD per million tokens, as providers publish them; converted to integer micro-USD for arithmetic."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_mtok_usd: float = Field(ge=0)
    output_per_mtok_usd: float = Field(ge=0)
    cached_input_per_mtok_usd: float | None = Field(default=None, ge=0)
    reasoning_per_mtok_usd: float | None = Field(default=None, ge=0)

    @property
    def input_micros_per_mtok(self) -> int:
        return round(self.input_per_mtok_usd * MICROS_PER_USD)

    @property
    def output_micros_per_mtok(self) -> int:
        return round(self.output_per_mtok_usd * MICROS_PER_USD)

    @property
    def cached_input_micros_per_mtok(self) -> int:
        rate = self.input_per_mtok_usd if self.cached_input_per_mtok_usd is None else self.cached_input_per_mtok_usd
        return round(rate * MICROS_PER_USD)

    @property
    def reasoning_micros_per_mtok(self) -> int:
        rate = self.output_per_mtok_usd if self.reasoning_per_mtok_usd is None else self.reasoning_per_mtok_usd
        return round(rate * MICROS_PER_USD)

    def cost_micros(
        self, prompt_tokens: int, completion_tokens: int, cached_prompt_tokens: int = 0, reasoning_tokens: int = 0
    ) -> int:
        """Exact cost in micro-USD, rounded up once at the end so many small calls never under-charge."""
        cached = min(cached_prompt_tokens, prompt_tokens)
        reasoning = min(reasoning_tokens, completion_tokens)
        numerator = (
            (prompt_tokens - cached) * self.input_micros_per_mtok
            + cached * self.cached_input_micros_per_mtok
            + (completion_tokens - reasoning) * self.output_micros_per_mtok
            + reasoning * self.reasoning_micros_per_mtok
        )
        return math.ceil(numerator / TOKENS_PER_MTOK)


class Capabilities(BaseModel):
    """What a deployment can do; the router's hard filters use these."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    context_window: int = Field(default=128_000, gt=0)
    max_output_tokens: int = Field(default=16_384, gt=0)
    tools: bool = True
    vision: bool = False
    json_mode: bool = True


class ApiKeyRef(BaseModel):
    """One of several keys of a deployment: the environment variable that holds it, and its share of calls."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str = Field(min_length=1)
    weight: float = Field(default=1.0, gt=0)


class Deployment(BaseModel):
    """One place a logical model can be called: a provider model behind an API base with a key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # No braces or spaces: the name is a Redis Cluster hash tag in the router's shared rpm/tpm keys.
    name: str = Field(pattern=r"^[^{}\s]+$")
    litellm_model: str = Field(min_length=1, description="provider/model as litellm names it, e.g. openai/gpt-4o")
    api_base: str | None = None
    api_key_env: str | None = Field(default=None, description="name of the environment variable holding the key")
    api_keys: tuple[ApiKeyRef, ...] = Field(
        default=(),
        description="several keys, used in proportion to their weights (spreads a provider's per-key rate limits)",
    )
    region: str = "global"
    weight: float = Field(default=1.0, gt=0)
    rpm: int = Field(default=0, ge=0, description="requests per minute, 0 = unlimited")
    tpm: int = Field(default=0, ge=0, description="tokens per minute, 0 = unlimited")
    timeout_seconds: float = Field(default=60.0, gt=0)
    # The gateway's own price wins; a deployment without one takes litellm's price map's (see parse_catalog).
    price: Price = None  # type: ignore[assignment]
    capabilities: Capabilities = Capabilities()

    @property
    def provider(self) -> str:
        return self.litellm_model.split("/", 1)[0] if "/" in self.litellm_model else "openai"

    @model_validator(mode="after")
    def _one_way_to_name_keys(self) -> Deployment:
        if self.api_key_env and self.api_keys:
            raise ValueError("set api_key_env or api_keys, not both")
        return self

    def api_key(self, environ: Mapping[str, str] = os.environ, rng: random.Random | None = None) -> str | None:
        """The key for one call: `api_key_env`'s, or one of `api_keys` drawn by weight among those that are set."""
        if not self.api_keys:
            return environ.get(self.api_key_env) if self.api_key_env else None
        present = [(ref.weight, environ[ref.env]) for ref in self.api_keys if environ.get(ref.env)]
        if not present:
            return None
        weights, keys = zip(*present, strict=True)
        return (rng or random).choices(keys, weights=weights)[0]


class LogicalModel(BaseModel):
    """A name clients use (for example "balanced") and the deployments that serve it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tier: Tier
    deployments: list[Deployment] = Field(min_length=1)
    fallbacks: list[str] = Field(default_factory=list, description="logical models to try next, in order")


class Catalog(BaseModel):
    """The whole catalog."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    tiers: dict[Tier, str] = Field(description="complexity tier -> logical model used for it")
    last_resort: str | None = Field(default=None, description="cheap logical model tried after every fallback")
    models: dict[str, LogicalModel] = Field(min_length=1)

    @field_validator("tiers")
    @classmethod
    def _every_tier(cls, tiers: dict[Tier, str]) -> dict[Tier, str]:
        missing = [tier for tier in TIERS if tier not in tiers]
        if missing:
            raise ValueError(f"tiers must map every tier; missing {missing}")
        return tiers

    @model_validator(mode="after")
    def _references_exist(self) -> Catalog:
        names = set(self.models)
        for tier, model in self.tiers.items():
            if model not in names:
                raise ValueError(f"tiers.{tier} names unknown model {model!r}")
        if self.last_resort is not None and self.last_resort not in names:
            raise ValueError(f"last_resort names unknown model {self.last_resort!r}")
        seen: dict[str, str] = {}
        for model_name, model in self.models.items():
            for fallback in model.fallbacks:
                if fallback not in names:
                    raise ValueError(f"models.{model_name}.fallbacks names unknown model {fallback!r}")
            for deployment in model.deployments:
                if deployment.name in seen:
                    raise ValueError(
                        f"deployment name {deployment.name!r} is used by models {seen[deployment.name]!r} and {model_name!r}"
                    )
                seen[deployment.name] = model_name
        return self

    def model(self, name: str) -> LogicalModel | None:
        return self.models.get(name)

    def deployment(self, name: str) -> tuple[str, Deployment] | None:
        """The (logical model, deployment) of a deployment name."""
        for model_name, model in self.models.items():
            for deployment in model.deployments:
                if deployment.name == name:
                    return model_name, deployment
        return None

    def fallback_chain(self, model_name: str) -> list[str]:
        """The model, its fallbacks, then the last resort: each logical model once, in order."""
        chain = [model_name, *self.models[model_name].fallbacks]
        if self.last_resort:
            chain.append(self.last_resort)
        return list(dict.fromkeys(chain))

    def worst_case_price(self, model_name: str) -> Price:
        """The highest input and output price among a model's deployments: what a reservation must cover."""
        deployments = self.models[model_name].deployments
        return Price(
            input_per_mtok_usd=max(d.price.input_per_mtok_usd for d in deployments),
            output_per_mtok_usd=max(d.price.output_per_mtok_usd for d in deployments),
        )


def _expand_env(value: object, environ: Mapping[str, str]) -> object:
    """Expands `${NAME}` and `${NAME:-default}` in every string of the YAML tree."""
    if isinstance(value, str):
        return _ENV_REF.sub(lambda m: environ.get(m.group(1), m.group(2) or ""), value)
    if isinstance(value, list):
        return [_expand_env(item, environ) for item in value]
    if isinstance(value, dict):
        return {key: _expand_env(item, environ) for key, item in value.items()}
    return value


PriceLookup = Callable[[str], "Price | None"]


def litellm_price(litellm_model: str) -> Price | None:
    """The price litellm's bundled map gives a provider/model, read as data (litellm is never imported).

    None when litellm is not installed (the guard and metering images carry no litellm: their catalogs must then
    price every deployment) or when the map has no such model.
    """
    prices = _litellm_price_map()
    entry = prices.get(litellm_model) or prices.get(litellm_model.split("/", 1)[-1])
    if not entry or "input_cost_per_token" not in entry or "output_cost_per_token" not in entry:
        return None
    per_mtok = TOKENS_PER_MTOK
    cached = entry.get("cache_read_input_token_cost")
    return Price(
        input_per_mtok_usd=entry["input_cost_per_token"] * per_mtok,
        output_per_mtok_usd=entry["output_cost_per_token"] * per_mtok,
        cached_input_per_mtok_usd=cached * per_mtok if cached is not None else None,
    )


@functools.cache
def _litellm_price_map() -> dict:
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(next(iter(spec.submodule_search_locations))) / "model_prices_and_context_window_backup.json"
    return json.loads(path.read_text()) if path.exists() else {}


def parse_catalog(
    data: object,
    source: str = "<catalog>",
    environ: Mapping[str, str] = os.environ,
    price_lookup: PriceLookup = litellm_price,
) -> Catalog:
    try:
        catalog = Catalog.model_validate(_expand_env(data, environ))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors()
        )
        raise CatalogError(f"invalid catalog {source}: {problems}") from None
    return _priced(catalog, source, price_lookup)


def _priced(catalog: Catalog, source: str, price_lookup: PriceLookup) -> Catalog:
    """Fills every unpriced deployment from `price_lookup`, or fails naming the entry."""
    models = {}
    for model_name, model in catalog.models.items():
        deployments = []
        for index, deployment in enumerate(model.deployments):
            if deployment.price is None:
                price = price_lookup(deployment.litellm_model)
                if price is None:
                    raise CatalogError(
                        f"invalid catalog {source}: models.{model_name}.deployments.{index}.price: {deployment.name} "
                        f"has no price, and litellm's price map has none for {deployment.litellm_model}"
                    )
                deployment = deployment.model_copy(update={"price": price})
            deployments.append(deployment)
        models[model_name] = model.model_copy(update={"deployments": deployments})
    return catalog.model_copy(update={"models": models})


def load_catalog(path: str | Path, environ: Mapping[str, str] = os.environ) -> Catalog:
    """Reads and validates a catalog file; raises CatalogError naming the bad entry."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError(f"cannot read catalog {path}: {exc}") from None
    return parse_catalog(data, str(path), environ)
