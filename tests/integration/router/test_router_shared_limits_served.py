"""Two routers on one Redis (ROUTER_REDIS_URL) share each deployment's rpm: together they never pass it."""

from __future__ import annotations

import grpc
import pytest
from router_testkit import catalog, retry_delay_seconds, rpc_error

from sluicegate.common.v1 import decision_pb2


async def test_two_routers_on_one_redis_admit_a_deployments_rpm_once_between_them(
    mock_upstream, start_router, redis_url
) -> None:
    limited = mock_upstream.deployment("d-limited", "mock-fast", rpm=1)
    shared_catalog = catalog(
        {
            "primary": {"deployments": [limited], "fallbacks": ["backup"]},
            "backup": {"deployments": [mock_upstream.deployment("d-spare", "mock-fast-spare")]},
        }
    )
    # A generous Redis timeout: on a crowded test machine a slow answer would send a router to its local count.
    first = await start_router(shared_catalog, redis_url=redis_url, redis_timeout_seconds=5)
    second = await start_router(shared_catalog, redis_url=redis_url, redis_timeout_seconds=5)

    answered = await first.complete("primary")
    skipped = await second.complete("primary")

    assert answered.route.deployment == "d-limited"
    assert [(a.deployment, a.outcome) for a in skipped.attempts] == [
        ("d-limited", decision_pb2.ATTEMPT_OUTCOME_RATE_LIMITED),
        ("d-spare", decision_pb2.ATTEMPT_OUTCOME_SUCCESS),
    ]
    assert (await mock_upstream.stats("mock-fast"))["received"] == 1

    alone = await start_router(
        catalog({"primary": {"deployments": [limited]}}), redis_url=redis_url, redis_timeout_seconds=5
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await alone.complete("primary")
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert 55 < retry_delay_seconds(rpc_error(caught)) <= 60, "the client is told when the deployment frees up"
