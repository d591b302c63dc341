"""The planner's hard filters and weighted order, on catalogs built in memory."""

from __future__ import annotations

import random
from collections import Counter

import grpc
import pytest
from google.protobuf.struct_pb2 import Struct

from sluicegate.catalog import parse_catalog
from sluicegate.common.v1 import chat_pb2
from sluicegate.convert import text_message
from sluicegate.router.v1 import router_pb2
from sluicegate.runtime.errors import ServiceError
from sluicegate_router.classifier import KeywordClassifier
from sluicegate_router.health import DeploymentHealth
from sluicegate_router.planner import RoutePlanner
from sluicegate_router.policies import Ranker

PRICE = {"input_per_mtok_usd": 1.0, "output_per_mtok_usd": 2.0}


def planner(deployments: list[dict], seed: int = 1) -> RoutePlanner:
    data = {
        "tiers": dict.fromkeys(("simple", "medium", "complex", "creative"), "m"),
        "models": {
            "m": {
                "tier": "medium",
                "deployments": [{"litellm_model": "openai/x", "price": PRICE} | d for d in deployments],
            }
        },
    }
    return RoutePlanner(
        parse_catalog(data),
        KeywordClassifier(),
        random.Random(seed),
        Ranker(DeploymentHealth(0.5), random.Random(seed)),
    )


def call(**params) -> router_pb2.ModelCall:
    return router_pb2.ModelCall(
        model="m", messages=[text_message(chat_pb2.ROLE_USER, "hi")], params=chat_pb2.GenerationParams(**params)
    )


def test_deployments_lead_in_proportion_to_their_weight() -> None:
    routes = planner([{"name": "heavy", "weight": 3}, {"name": "light", "weight": 1}])

    leaders = Counter(routes.plan(call()).decision.deployment for _ in range(2000))

    assert 0.70 < leaders["heavy"] / 2000 < 0.80
    assert {c.deployment for c in routes.plan(call()).decision.alternatives} <= {"heavy", "light"}


@pytest.mark.parametrize(
    ("capabilities", "params", "reason"),
    [
        ({"tools": False}, {"tools": [chat_pb2.Tool(name="f", parameters_json_schema=Struct())]}, "cannot call tools"),
        ({"json_mode": False}, {"response_format": chat_pb2.RESPONSE_FORMAT_JSON_OBJECT}, "has no JSON mode"),
        ({"max_output_tokens": 100}, {"max_tokens": 500}, "answers at most 100 tokens"),
    ],
)
def test_a_deployment_missing_a_needed_capability_is_skipped_with_the_reason(capabilities, params, reason) -> None:
    routes = planner([{"name": "lacking", "capabilities": capabilities, "weight": 100}, {"name": "able"}])

    decision = routes.plan(call(**params)).decision

    assert decision.deployment == "able"
    assert [(c.deployment, c.excluded_reason) for c in decision.alternatives] == [("lacking", reason)]


def test_images_need_a_vision_deployment() -> None:
    routes = planner([{"name": "blind", "capabilities": {"vision": False}}])
    picture = chat_pb2.Message(role=chat_pb2.ROLE_USER, content=[chat_pb2.ContentPart(image_url="https://x/a.png")])

    with pytest.raises(ServiceError) as caught:
        routes.plan(router_pb2.ModelCall(model="m", messages=[picture]))

    assert caught.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert caught.value.reason == "NO_CAPABLE_DEPLOYMENT"
    assert "cannot read images" in caught.value.message
