"""The catalog: the gateway's own prices win, litellm's map fills the gaps, and a bad entry is named."""

from __future__ import annotations

import pytest

from sluicegate.catalog import CatalogError, Price, parse_catalog

TIERS = dict.fromkeys(("simple", "medium", "complex", "creative"), "m")


def _catalog(*deployments: dict, price_lookup=None):
    data = {"tiers": TIERS, "models": {"m": {"tier": "medium", "deployments": list(deployments)}}}
    return (
        parse_catalog(data, "test.yaml", price_lookup=price_lookup)
        if price_lookup
        else parse_catalog(data, "test.yaml")
    )


def test_the_gateways_own_price_wins_over_litellms_map() -> None:
    own = {"input_per_mtok_usd": 9.0, "output_per_mtok_usd": 9.0}
    [deployment] = _catalog({"name": "d", "litellm_model": "openai/gpt-4o-mini", "price": own}).models["m"].deployments
    assert deployment.price.input_per_mtok_usd == 9.0


def test_an_unpriced_deployment_takes_litellms_price() -> None:
    pytest.importorskip("litellm")
    [deployment] = _catalog({"name": "d", "litellm_model": "openai/gpt-4o-mini"}).models["m"].deployments
    assert deployment.price.input_micros_per_mtok == 150_000
    assert deployment.price.output_micros_per_mtok == 600_000
    assert deployment.price.cached_input_micros_per_mtok == 75_000


def test_a_deployment_no_one_can_price_is_named() -> None:
    with pytest.raises(CatalogError, match=r"models\.m\.deployments\.0\.price: d has no price"):
        _catalog({"name": "d", "litellm_model": "openai/no-such-model"}, price_lookup=lambda model: None)


def test_the_lookup_is_asked_only_for_unpriced_deployments() -> None:
    asked = []

    def lookup(model: str) -> Price:
        asked.append(model)
        return Price(input_per_mtok_usd=1, output_per_mtok_usd=2)

    own = {"input_per_mtok_usd": 3.0, "output_per_mtok_usd": 4.0}
    _catalog(
        {"name": "a", "litellm_model": "openai/x", "price": own},
        {"name": "b", "litellm_model": "openai/y"},
        price_lookup=lookup,
    )
    assert asked == ["openai/y"]


def test_calls_spread_over_a_deployments_keys_by_weight() -> None:
    import random

    own = {"input_per_mtok_usd": 1.0, "output_per_mtok_usd": 2.0}
    keys = [{"env": "KEY_A", "weight": 3}, {"env": "KEY_B", "weight": 1}, {"env": "KEY_UNSET", "weight": 5}]
    [deployment] = (
        _catalog({"name": "d", "litellm_model": "openai/x", "price": own, "api_keys": keys}).models["m"].deployments
    )
    environ = {"KEY_A": "sk-a", "KEY_B": "sk-b"}
    rng = random.Random(7)
    drawn = [deployment.api_key(environ, rng) for _ in range(4000)]
    assert set(drawn) == {"sk-a", "sk-b"}  # an unset key is never used
    assert 0.72 < drawn.count("sk-a") / len(drawn) < 0.78
    assert deployment.api_key({}) is None


def test_a_deployment_names_its_keys_one_way() -> None:
    own = {"input_per_mtok_usd": 1.0, "output_per_mtok_usd": 2.0}
    with pytest.raises(CatalogError, match="api_key_env or api_keys"):
        _catalog(
            {"name": "d", "litellm_model": "openai/x", "price": own, "api_key_env": "A", "api_keys": [{"env": "B"}]}
        )
