"""Each routing policy through the served router, over deployments the mock upstream makes slow or fast."""

from __future__ import annotations

from collections import Counter

from router_testkit import catalog, model_call

from sluicegate.router.v1 import router_pb2

CHEAP = {"input_per_mtok_usd": 0.1, "output_per_mtok_usd": 0.4}
DEAR = {"input_per_mtok_usd": 10.0, "output_per_mtok_usd": 30.0}


async def test_each_policy_picks_its_deployment_from_prices_weights_and_measured_latency(
    mock_upstream, start_router
) -> None:
    # The catalog's first choice is the slowest; the cheapest is slowish; the dearest is fast and weighs most.
    router = await start_router(
        catalog(
            {
                "primary": {
                    "deployments": [mock_upstream.deployment("d-first", "mock-slow-120")],
                    "fallbacks": ["backup"],
                },
                "backup": {
                    "deployments": [
                        mock_upstream.deployment("d-cheap", "mock-slow-30", price=CHEAP),
                        mock_upstream.deployment("d-quick", "mock-fast", price=DEAR, weight=6),
                    ]
                },
            }
        )
    )

    async def leader(policy: str) -> str:
        request = router_pb2.RouteRequest(call=model_call("primary", policy=policy))
        return (await router.stub.Route(request, timeout=5)).decision.deployment

    assert (await router.complete("primary", policy="tier_map")).route.deployment == "d-first"
    assert (await router.complete("primary", policy="cheapest")).route.deployment == "d-cheap"
    # A never measured deployment leads whenever it is drawn, so calls soon measure it.
    served = [(await router.complete("primary", policy="lowest_latency")).route.deployment for _ in range(2)]
    while "d-quick" not in served and len(served) < 10:
        served.append((await router.complete("primary", policy="lowest_latency")).route.deployment)
    assert "d-quick" in served

    latency_leaders = Counter([await leader("lowest_latency") for _ in range(12)])
    weighted_leaders = Counter([await leader("weighted") for _ in range(30)])

    # Power of two choices: the slowest never wins its draw, the fastest wins every draw it is in.
    assert "d-first" not in latency_leaders
    assert latency_leaders.most_common(1)[0][0] == "d-quick"
    assert weighted_leaders.most_common(1)[0][0] == "d-quick" and len(weighted_leaders) >= 2
