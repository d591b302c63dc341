"""Route (the dry run) and ListDeployments through the served router: tiers, names, allowlists, hard filters."""

from __future__ import annotations

import grpc
import pytest
from router_testkit import TIERS, catalog, model_call, rpc_error

from sluicegate.common.v1 import chat_pb2
from sluicegate.convert import text_message
from sluicegate.router.v1 import router_pb2


def tiered_catalog(mock) -> dict:
    """One model per tier (named like the tier), each with one deployment; `big` has a larger window."""
    models = {
        tier: {"tier": tier, "deployments": [mock.deployment(f"d-{tier}", "mock-fast", region="eu")]} for tier in TIERS
    }
    models["medium"]["fallbacks"] = ["big"]
    models["big"] = {
        "deployments": [mock.deployment("d-big", "mock-fast", region="us", capabilities={"context_window": 1_000_000})]
    }
    for tier in TIERS:
        models[tier]["deployments"][0]["capabilities"] = {"context_window": 1000, "max_output_tokens": 500}
    return catalog(models, tiers={tier: tier for tier in TIERS})


@pytest.fixture
async def router(mock_upstream, start_router):
    return await start_router(tiered_catalog(mock_upstream))


@pytest.mark.parametrize(
    ("prompt", "tier"),
    [
        ("Classify this ticket as billing or support", "simple"),
        ("Answer yes or no: is the sky blue?", "simple"),
        ("Summarize the meeting notes below", "medium"),
        ("Please debug this stack trace", "complex"),
        ("Summarize and then review this design document", "complex"),
        ("Brainstorm ten names for a bakery", "creative"),
        ("Write a short story about a lighthouse", "creative"),
        ("Hello, how are you?", "medium"),
    ],
)
async def test_auto_routes_by_the_keywords_of_the_last_user_message(router, prompt: str, tier: str) -> None:
    decision = await router.route("auto", prompt)

    assert (decision.model, decision.deployment) == (tier, f"d-{tier}")
    assert decision.complexity == chat_pb2.TaskComplexity.Value(f"TASK_COMPLEXITY_{tier.upper()}")
    assert decision.complexity_source == "rules"
    assert decision.policy == "tier_map"
    assert decision.requested_model == "auto"
    assert tier in decision.reason


async def test_a_complexity_hint_overrides_the_keywords(router) -> None:
    decision = await router.route("", "Please debug this", complexity_hint=chat_pb2.TASK_COMPLEXITY_SIMPLE)

    assert decision.model == "simple"
    assert decision.complexity_source == "hint"


async def test_a_named_model_is_used_as_is_with_its_chain_as_alternatives(router) -> None:
    decision = await router.route("medium", "Brainstorm a story")

    assert (decision.model, decision.deployment, decision.policy) == ("medium", "d-medium", "explicit")
    assert [(c.deployment, c.excluded_reason) for c in decision.alternatives] == [("d-big", "")]


async def test_an_unknown_model_is_not_found(router) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.route("gpt-17")

    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert rpc_error(caught).reason == "MODEL_UNKNOWN"


async def test_a_key_may_only_use_its_allowed_models(router) -> None:
    allowed_elsewhere = chat_pb2.Principal(tenant_id="t", allowed_models=["simple"])
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.route("auto", "Please debug this", principal=allowed_elsewhere)

    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert rpc_error(caught).reason == "MODEL_NOT_ALLOWED"
    # The allowlist also keeps fallbacks it does not name out of the chain.
    decision = await router.route("medium", principal=chat_pb2.Principal(allowed_models=["medium"]))
    assert [c.excluded_reason for c in decision.alternatives] == ["this API key may not use the model"]


async def test_a_prompt_too_long_for_a_window_goes_to_a_deployment_that_fits(router) -> None:
    long_prompt = "word " * 2000

    decision = await router.route("medium", long_prompt)

    assert (decision.model, decision.deployment) == ("big", "d-big")
    [excluded] = decision.alternatives
    assert excluded.deployment == "d-medium" and "context window 1000" in excluded.excluded_reason
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.route("simple", long_prompt)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert rpc_error(caught).reason == "CONTEXT_WINDOW_EXCEEDED"


async def test_a_region_pin_filters_every_deployment_of_the_chain(router) -> None:
    decision = await router.route("medium", region="us")
    assert decision.deployment == "d-big"

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.route("simple", region="us")
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert rpc_error(caught).reason == "NO_CAPABLE_DEPLOYMENT"
    assert "d-simple" in caught.value.details()


async def test_a_call_without_messages_is_rejected_naming_the_field(router) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.stub.Route(router_pb2.RouteRequest(call=router_pb2.ModelCall(model="auto")), timeout=5)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "call.messages" in caught.value.details()


async def test_list_deployments_shows_prices_windows_and_health_from_real_calls(mock_upstream, start_router) -> None:
    router = await start_router(
        catalog(
            {
                "primary": {
                    "deployments": [mock_upstream.deployment("d-down", "mock-status-503")],
                    "fallbacks": ["ok"],
                },
                "ok": {"tier": "simple", "deployments": [mock_upstream.deployment("d-up", "mock-fast", region="eu")]},
            }
        )
    )
    await router.complete("primary")

    listed = (await router.stub.ListDeployments(router_pb2.ListDeploymentsRequest(), timeout=5)).deployments
    by_name = {d.name: d for d in listed}

    assert set(by_name) == {"d-down", "d-up"}
    up = by_name["d-up"]
    assert (up.model, up.provider, up.region, up.tier) == ("ok", "openai", "eu", chat_pb2.TASK_COMPLEXITY_SIMPLE)
    assert (up.input_micros_usd_per_mtok, up.output_micros_usd_per_mtok) == (2_000_000, 8_000_000)
    assert up.context_window_tokens == 128_000
    assert up.breaker == router_pb2.BREAKER_STATE_CLOSED
    assert up.ewma_latency_ms > 0 and up.recent_error_rate == 0
    assert by_name["d-down"].recent_error_rate == 1.0
    only_ok = await router.stub.ListDeployments(router_pb2.ListDeploymentsRequest(model="ok"), timeout=5)
    assert [d.name for d in only_ok.deployments] == ["d-up"]


async def test_route_returns_the_policys_ranking_with_scores_and_reasons(router) -> None:
    request = router_pb2.RouteRequest(
        call=router_pb2.ModelCall(
            model="medium", policy="cheapest", messages=[text_message(chat_pb2.ROLE_USER, "hello there")]
        )
    )

    response = await router.stub.Route(request, timeout=5)

    assert response.decision.policy == "cheapest"
    assert [r.deployment for r in response.ranking] == ["d-medium", "d-big"]
    assert response.ranking[0].deployment == response.decision.deployment
    assert all(r.score > 0 and "micro-USD" in r.reason for r in response.ranking)


async def test_an_unknown_policy_is_an_invalid_argument(router) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.route("medium", policy="fastest-please")

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "call.policy" in caught.value.details()


@pytest.mark.parametrize("field", ["call.messages[0].role", "call.complexity_hint", "call.params.response_format"])
async def test_an_enum_value_the_router_does_not_know_is_an_invalid_argument_naming_the_field(router, field) -> None:
    call = model_call("auto")
    if field == "call.messages[0].role":
        call.messages[0].role = 42
    elif field == "call.complexity_hint":
        call.complexity_hint = 42
    else:
        call.params.response_format = 42

    for rpc, request in (
        (router.stub.Route, router_pb2.RouteRequest(call=call)),
        (router.stub.Complete, router_pb2.CompleteRequest(call=call)),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await rpc(request, timeout=5)

        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in caught.value.details()
