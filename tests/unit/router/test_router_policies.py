"""Routing policies on in-memory catalogs: each ranks the capable deployments as it should, with scores and reasons."""

from __future__ import annotations

import random
from collections import Counter

from sluicegate.catalog import parse_catalog
from sluicegate.common.v1 import chat_pb2
from sluicegate.convert import text_message
from sluicegate.router.v1 import router_pb2
from sluicegate_router.classifier import KeywordClassifier
from sluicegate_router.health import DeploymentHealth
from sluicegate_router.planner import RoutePlanner
from sluicegate_router.policies import Ranker


def deployment(name: str, input_usd: float, output_usd: float, **extra) -> dict:
    price = {"input_per_mtok_usd": input_usd, "output_per_mtok_usd": output_usd}
    return {"name": name, "litellm_model": "openai/x", "price": price} | extra


CATALOG = parse_catalog(
    {
        "tiers": dict.fromkeys(("simple", "medium", "complex", "creative"), "main"),
        "last_resort": "tiny",
        "models": {
            "main": {
                "tier": "medium",
                "deployments": [
                    deployment("pricey", 10, 30, weight=1),
                    deployment("small-window", 0.1, 0.2, capabilities={"context_window": 10}),
                ],
                "fallbacks": ["backup"],
            },
            "backup": {"tier": "medium", "deployments": [deployment("mid", 1, 2, weight=3)]},
            "tiny": {"tier": "simple", "deployments": [deployment("cheapest-of-all", 0.01, 0.01)]},
        },
    }
)
PROMPT = "please answer this question about the weather in some detail " * 3


def planner(health: DeploymentHealth | None = None, seed: int = 3, default_policy: str = "tier_map") -> RoutePlanner:
    ranker = Ranker(health or DeploymentHealth(0.5), random.Random(seed))
    return RoutePlanner(CATALOG, KeywordClassifier(), random.Random(seed), ranker, default_policy)


def call(policy: str = "", **fields) -> router_pb2.ModelCall:
    return router_pb2.ModelCall(
        model="main", policy=policy, messages=[text_message(chat_pb2.ROLE_USER, PROMPT)], **fields
    )


def test_cheapest_picks_the_cheapest_capable_deployment_and_keeps_the_last_resort_last() -> None:
    plan = planner().plan(call("cheapest"))

    # small-window is cheaper but cannot hold the prompt; the last resort is for emergencies only.
    assert [r.candidate.deployment.name for r in plan.ranking] == ["mid", "pricey", "cheapest-of-all"]
    assert plan.decision.policy == "cheapest" and plan.decision.deployment == "mid"
    scores = [r.score for r in plan.ranking[:2]]
    assert scores == sorted(scores) and scores[0] > 0
    assert "micro-USD" in plan.ranking[0].reason
    assert [c.deployment for c in plan.decision.alternatives if not c.excluded_reason] == ["pricey", "cheapest-of-all"]


def test_the_cost_estimate_uses_max_tokens_when_the_call_sets_it() -> None:
    short = planner().plan(call("cheapest")).ranking[0].score
    long = planner().plan(call("cheapest", params=chat_pb2.GenerationParams(max_tokens=4000))).ranking[0].score

    assert long > short


def test_lowest_latency_prefers_the_faster_and_measures_unknown_deployments_first() -> None:
    health = DeploymentHealth(0.5)
    unmeasured = planner(health).plan(call("lowest_latency"))
    assert "no latency measured" in unmeasured.ranking[0].reason

    health.record_success("pricey", latency_ms=900.0)
    health.record_success("mid", latency_ms=120.0, ttft_ms=40.0)
    leaders = Counter(planner(health, seed=s).plan(call("lowest_latency")).decision.deployment for s in range(50))

    # Two capable deployments: the faster of the two draws is always mid.
    assert leaders == {"mid": 50}
    plan = planner(health).plan(call("lowest_latency"))
    assert plan.ranking[0].score == 0.5 * 40.0 + 0.5 * 120.0
    assert "faster of two drawn at random" in plan.ranking[0].reason


def test_weighted_spreads_calls_across_the_models_deployments_by_weight() -> None:
    routes = planner(default_policy="weighted")
    leaders = Counter(routes.plan(call()).decision.deployment for _ in range(2000))

    # pricey weight 1, mid weight 3 (small-window cannot take the prompt).
    assert 0.70 < leaders["mid"] / 2000 < 0.80
    assert leaders["pricey"] + leaders["mid"] == 2000


def test_the_calls_policy_overrides_the_default_and_tier_map_keeps_the_catalog_order() -> None:
    routes = planner(default_policy="cheapest")

    assert routes.plan(call()).decision.policy == "cheapest"
    tier_map = routes.plan(call("tier_map"))
    assert tier_map.decision.policy == "explicit"
    assert [r.candidate.deployment.name for r in tier_map.ranking] == ["pricey", "mid", "cheapest-of-all"]


def test_a_tenants_policy_applies_unless_the_call_names_one() -> None:
    ranker = Ranker(DeploymentHealth(0.5), random.Random(1))
    routes = RoutePlanner(CATALOG, KeywordClassifier(), random.Random(1), ranker, "tier_map", 256, {"acme": "cheapest"})
    acme = router_pb2.ModelCall()
    acme.CopyFrom(call())
    acme.principal.tenant_id = "acme"

    assert routes.plan(acme).decision.policy == "cheapest"
    assert routes.plan(call()).decision.policy == "explicit"
    acme.policy = "weighted"
    assert routes.plan(acme).decision.policy == "weighted"
