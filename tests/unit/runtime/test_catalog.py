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
