"""Pricing is exact to the micro-dollar: worst-case quotes, cached and reasoning tokens, unknown deployments."""

from __future__ import annotations

import grpc
import pytest

from sluicegate.catalog import CatalogError, parse_catalog
from sluicegate.runtime.errors import ServiceError
from sluicegate_metering.pricing import Pricer, Quote
from sluicegate_metering.records import Principal, UsageCharge


def _deployment(name: str, input_usd: float, output_usd: float, **extra) -> dict:
    return {
        "name": name,
        "litellm_model": f"openai/{name}",
        "price": {"input_per_mtok_usd": input_usd, "output_per_mtok_usd": output_usd, **extra.pop("price", {})},
        **extra,
    }


@pytest.fixture
def thinker() -> Pricer:
    """A model with two deployments at different prices and distinct cached and reasoning rates."""
    catalog = parse_catalog(
        {
            "tiers": {"simple": "thinker", "medium": "thinker", "complex": "thinker", "creative": "thinker"},
            "models": {
                "thinker": {
                    "tier": "complex",
                    "deployments": [
                        _deployment(
                            "thinker-a",
                            2.0,
                            8.0,
                            price={"cached_input_per_mtok_usd": 0.5, "reasoning_per_mtok_usd": 20.0},
                            capabilities={"max_output_tokens": 4000},
                        ),
                        _deployment("thinker-b", 3.0, 6.0, capabilities={"max_output_tokens": 9000}),
                    ],
                }
            },
        }
    )
    return Pricer(catalog)


def test_quote_takes_the_dearest_input_and_output_prices(thinker):
    # 700,001 tokens at $3/M (thinker-b's input) + 3 tokens at $8/M (thinker-a's output): 2,100,003 + 24 micro-USD.
    assert thinker.quote("thinker", 700_001, 3) == Quote("thinker", 2_100_027)
    # Without max_tokens the output is the smallest limit among the deployments (4,000).
    assert thinker.quote("thinker", 1, 0).amount_micros == 3 + 4_000 * 8


def test_a_fraction_of_a_micro_dollar_rounds_up_once(catalog):
    # fast: 7 x $0.15/M + 1 x $0.60/M = 1.05 + 0.60 = 1.65 micro-USD -> 2 (rounding each part would give 3).
    assert Pricer(catalog).quote("fast", 7, 1).amount_micros == 2


def test_quote_without_max_tokens_uses_the_smallest_output_limit(catalog):
    pricer = Pricer(catalog)
    # fast: 100 x $0.15/M + 16,384 x $0.60/M = 15 + 9,830.4 -> 9,846 micro-USD.
    assert pricer.quote("fast", 100, 0).amount_micros == 9846


def test_cached_and_reasoning_tokens_are_priced_at_their_own_rates(thinker):
    charge = UsageCharge(
        model="thinker",
        deployment="thinker-a",
        prompt_tokens=10_000,
        completion_tokens=2_000,
        cached_prompt_tokens=8_000,
        reasoning_tokens=1_500,
    )
    # 2,000 fresh x $2 + 8,000 cached x $0.5 + 500 visible x $8 + 1,500 reasoning x $20 (per million tokens).
    assert thinker.cost(charge, "thinker") == 4_000 + 4_000 + 4_000 + 30_000


def test_reasoning_without_its_own_rate_costs_the_output_rate(catalog):
    charge = UsageCharge(
        "reasoning", "mock-reasoning", 10_000, 2_000, cached_prompt_tokens=8_000, reasoning_tokens=1_500
    )
    # 2,000 x $3 + 8,000 x $0.30 + 2,000 output (reasoning included) x $15.
    assert Pricer(catalog).cost(charge, "reasoning") == 6_000 + 2_400 + 30_000


def test_unknown_deployment_is_priced_at_its_models_worst_case(thinker):
    charge = UsageCharge("thinker", "retired-deployment", prompt_tokens=1_000, completion_tokens=1_000)
    assert thinker.cost(charge, "thinker") == 3_000 + 8_000


def test_unknown_model_is_not_found(catalog):
    with pytest.raises(ServiceError) as caught:
        Pricer(catalog).quote("gpt-9", 10, 10)
    assert caught.value.code == grpc.StatusCode.NOT_FOUND
    assert caught.value.reason == "MODEL_UNKNOWN"


def test_cheapest_alternative_respects_the_allowlist_and_capabilities(catalog):
    pricer = Pricer(catalog)
    requested = pricer.quote("reasoning", 1_000, 500)
    assert pricer.cheapest_alternative(Principal("acme"), requested, 1_000, 500).model == "fast"
    only_balanced = Principal("acme", allowed_models=("reasoning", "balanced"))
    assert pricer.cheapest_alternative(only_balanced, requested, 1_000, 500).model == "balanced"
    # Only reasoning's deployment can write 40,000 tokens, so nothing cheaper can serve the call.
    wide = pricer.quote("reasoning", 1_000, 40_000)
    assert pricer.cheapest_alternative(Principal("acme"), wide, 1_000, 40_000) is None


def test_a_catalog_dearer_than_metering_can_count_exactly_is_refused():
    def catalog(reasoning_usd: float):
        return parse_catalog(
            {
                "tiers": {"simple": "m", "medium": "m", "complex": "m", "creative": "m"},
                "models": {
                    "m": {
                        "tier": "complex",
                        "deployments": [_deployment("m-a", 1.0, 2.0, price={"reasoning_per_mtok_usd": reasoning_usd})],
                    }
                },
            }
        )

    Pricer(catalog(1_000_000.0))
    with pytest.raises(CatalogError, match="m-a"):
        Pricer(catalog(1_000_001.0))
