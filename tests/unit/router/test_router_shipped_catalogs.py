"""The catalogs the project ships load, and map the four complexity tiers to models with deployments."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluicegate.catalog import load_catalog

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("path", "served_by_the_mock"), [("deploy/catalog/example.yaml", False), ("deploy/catalog/mock.yaml", True)]
)
def test_a_shipped_catalog_maps_every_tier_to_a_chain_of_deployments(path: str, served_by_the_mock: bool) -> None:
    catalog = load_catalog(REPO / path, environ={})

    assert {str(tier) for tier in catalog.tiers} == {"simple", "medium", "complex", "creative"}
    litellm_models = set()
    for model in catalog.tiers.values():
        for name in catalog.fallback_chain(model):
            litellm_models |= {d.litellm_model for d in catalog.models[name].deployments}
    on_mock = {m for m in litellm_models if m.split("/")[-1].startswith("mock-")}
    assert litellm_models and on_mock == (litellm_models if served_by_the_mock else set())
