"""Complete through the real router and litellm against the mock upstream: retries, fallbacks, errors, costs."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from router_testkit import PRICE, MockUpstream, catalog, error_metadata, retry_delay_seconds, rpc_error

from sluicegate.catalog import Price
from sluicegate.common.v1 import chat_pb2, decision_pb2
from sluicegate.router.v1 import router_pb2

OUTCOME = decision_pb2.AttemptOutcome.Name


def outcomes(response) -> list[tuple[str, str, int]]:
    return [(a.deployment, OUTCOME(a.outcome).removeprefix("ATTEMPT_OUTCOME_"), a.retry) for a in response.attempts]


def chain(mock: MockUpstream, primary: list[dict], fallback: list[dict] | None = None, **primary_extra) -> dict:
    """A catalog whose model `primary` falls back to `backup`."""
    models = {"primary": {"deployments": primary, **primary_extra}}
    if fallback:
        models["primary"]["fallbacks"] = ["backup"]
        models["backup"] = {"deployments": fallback}
    return catalog(models)


async def test_a_plain_call_answers_with_usage_and_its_cost(mock_upstream, start_router) -> None:
    router = await start_router(chain(mock_upstream, [mock_upstream.deployment("d-fast", "mock-fast")]))

    response = await router.complete("primary", "hello there")

    assert response.message.role == chat_pb2.ROLE_ASSISTANT
    assert response.message.content[0].text.startswith("Mock answer from mock-fast: you said: hello there")
    assert response.finish_reason == chat_pb2.FINISH_REASON_STOP
    assert response.model == "primary"
    assert response.route.deployment == "d-fast"
    assert outcomes(response) == [("d-fast", "SUCCESS", 0)]
    usage = response.usage
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    expected = Price(**PRICE).cost_micros(usage.prompt_tokens, usage.completion_tokens)
    assert response.cost_micros_usd == expected == response.attempts[0].cost_micros_usd


async def test_a_503_is_retried_then_falls_back_and_every_attempt_is_recorded(mock_upstream, start_router) -> None:
    router = await start_router(
        chain(
            mock_upstream,
            [mock_upstream.deployment("d-down", "mock-status-503")],
            [mock_upstream.deployment("d-up", "mock-fast")],
        )
    )

    response = await router.complete("primary")

    assert outcomes(response) == [
        ("d-down", "SERVER_ERROR", 0),
        ("d-down", "SERVER_ERROR", 1),
        ("d-up", "SUCCESS", 0),
    ]
    assert [a.http_status for a in response.attempts] == [503, 503, 0]
    assert response.model == "backup"
    assert response.route.deployment == "d-up"
    assert response.cost_micros_usd == sum(a.cost_micros_usd for a in response.attempts) > 0
    assert (await mock_upstream.stats("mock-status-503"))["received"] == 2


async def test_a_429_honours_retry_after_then_falls_back(mock_upstream, start_router) -> None:
    router = await start_router(
        chain(
            mock_upstream,
            [mock_upstream.deployment("d-limited", "mock-status-429-retry-0")],
            [mock_upstream.deployment("d-up", "mock-fast")],
        )
    )

    response = await router.complete("primary")

    assert outcomes(response) == [
        ("d-limited", "RATE_LIMITED", 0),
        ("d-limited", "RATE_LIMITED", 1),
        ("d-up", "SUCCESS", 0),
    ]


async def test_when_every_deployment_fails_the_call_is_unavailable_with_the_providers_retry_after(
    mock_upstream, start_router
) -> None:
    # A Retry-After longer than max_retry_after_seconds (1 s here) is not waited for: the router falls back
    # at once, and hands the wait on to the client.
    router = await start_router(
        chain(
            mock_upstream,
            [mock_upstream.deployment("d-limited", "mock-status-429-retry-3")],
            [mock_upstream.deployment("d-down", "mock-status-500")],
        )
    )

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.complete("primary")

    error = rpc_error(caught)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert error.reason == "UPSTREAM_UNAVAILABLE"
    assert retry_delay_seconds(error) == 3.0
    assert error_metadata(error)["attempts"] == "3"
    assert error_metadata(error)["deployments"] == "d-limited,d-down"
    assert (await mock_upstream.stats("mock-status-429-retry-3"))["received"] == 1


@pytest.mark.parametrize("directive", ["mock-status-400", "mock-status-401"], ids=["bad request", "auth error"])
async def test_a_bad_request_or_auth_error_is_neither_retried_nor_passed_to_a_fallback(
    mock_upstream, start_router, directive
) -> None:
    router = await start_router(
        chain(
            mock_upstream,
            [mock_upstream.deployment("d-picky", directive)],
            [mock_upstream.deployment("d-up", "mock-fast")],
        )
    )

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.complete("primary")

    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert rpc_error(caught).reason == "UPSTREAM_REJECTED"
    assert (await mock_upstream.stats(directive))["received"] == 1
    assert await mock_upstream.stats("mock-fast") == {}


@pytest.mark.parametrize(
    ("directive", "setting", "code", "reason", "outcome"),
    [
        (
            "mock-ctx-5",
            "fallback_on_context_window",
            grpc.StatusCode.INVALID_ARGUMENT,
            "CONTEXT_WINDOW_EXCEEDED",
            "CONTEXT_WINDOW_EXCEEDED",
        ),
        (
            "mock-policy",
            "fallback_on_content_policy",
            grpc.StatusCode.FAILED_PRECONDITION,
            "CONTENT_POLICY",
            "CONTENT_POLICY",
        ),
    ],
)
async def test_a_refusal_falls_back_without_retry_only_where_configured_else_it_is_returned(
    mock_upstream, start_router, directive, setting, code, reason, outcome
) -> None:
    backup = {"deployments": [mock_upstream.deployment("d-up", "mock-fast")]}
    router = await start_router(
        catalog(
            {
                "configured": {
                    "deployments": [mock_upstream.deployment("d-refuses", directive)],
                    "fallbacks": ["backup"],
                },
                "unconfigured": {
                    "deployments": [mock_upstream.deployment("d-refuses-and-stops", directive)],
                    "fallbacks": ["backup"],
                },
                "backup": backup,
                "alone": {"deployments": [mock_upstream.deployment("d-refuses-too", directive)]},
            }
        ),
        **{setting: "configured,alone"},
    )

    prompt = "a prompt long enough to overflow a context window of five tokens, whatever the tokenizer"
    response = await router.complete("configured", prompt)
    assert outcomes(response) == [("d-refuses", outcome, 0), ("d-up", "SUCCESS", 0)]

    for model in ("unconfigured", "alone"):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await router.complete(model, prompt)
        assert caught.value.code() == code
        assert rpc_error(caught).reason == reason
        assert error_metadata(rpc_error(caught))["attempts"] == "1"
    assert (await mock_upstream.stats(directive))["received"] == 3
    assert (await mock_upstream.stats("mock-fast"))["received"] == 1, "the unconfigured refusal never fell back"


async def test_a_deployment_timeout_is_retried_then_falls_back(mock_upstream, start_router) -> None:
    router = await start_router(
        chain(
            mock_upstream,
            [mock_upstream.deployment("d-hangs", "mock-hang", timeout_seconds=0.2)],
            [mock_upstream.deployment("d-up", "mock-fast")],
        )
    )

    response = await router.complete("primary")

    assert outcomes(response) == [("d-hangs", "TIMEOUT", 0), ("d-hangs", "TIMEOUT", 1), ("d-up", "SUCCESS", 0)]
    assert all(150 < a.duration_ms < 1000 for a in response.attempts[:2])
    # Each timed-out call was really abandoned: its HTTP request was closed, which the mock counts.
    await mock_upstream.wait_for("mock-hang", "cancelled", 2)


async def test_the_clients_deadline_bounds_the_call_and_reaches_the_provider(mock_upstream, start_router) -> None:
    router = await start_router(chain(mock_upstream, [mock_upstream.deployment("d-hangs", "mock-hang")]))

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.complete("primary", timeout=0.4)

    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    await mock_upstream.wait_for("mock-hang", "cancelled", 1)


async def test_a_client_that_cancels_a_plain_call_cancels_the_provider_call(mock_upstream, start_router) -> None:
    router = await start_router(chain(mock_upstream, [mock_upstream.deployment("d-hangs", "mock-hang")]))
    call = asyncio.ensure_future(router.complete("primary"))
    await mock_upstream.wait_for("mock-hang", "in_flight", 1)

    call.cancel()

    counters = await mock_upstream.wait_for("mock-hang", "cancelled", 1)
    assert counters["in_flight"] == 0


async def test_a_region_pin_binds_every_fallback_of_a_call(mock_upstream, start_router) -> None:
    router = await start_router(
        chain(
            mock_upstream,
            [mock_upstream.deployment("d-eu-down", "mock-status-503", region="eu")],
            [
                mock_upstream.deployment("d-us", "mock-chunks-3", region="us", weight=100),
                mock_upstream.deployment("d-eu", "mock-fast", region="eu"),
            ],
        )
    )

    response = await router.complete("primary", region="eu")

    assert outcomes(response) == [
        ("d-eu-down", "SERVER_ERROR", 0),
        ("d-eu-down", "SERVER_ERROR", 1),
        ("d-eu", "SUCCESS", 0),
    ]
    assert await mock_upstream.stats("mock-chunks-3") == {}, "the us deployment is never called"
    assert (await router.complete("primary", region="us")).route.deployment == "d-us", "the fallback was callable"


async def test_the_api_key_comes_from_the_variable_the_catalog_names(keyed_mock_upstream, start_router) -> None:
    keyed = keyed_mock_upstream.deployment("d-keyed", "mock-fast", api_key_env="MOCK_KEY")
    data = chain(keyed_mock_upstream, [keyed])

    with_key = await start_router(data, environ={"MOCK_KEY": "sk-real"})
    assert (await with_key.complete("primary")).route.deployment == "d-keyed"

    without_key = await start_router(data)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await without_key.complete("primary")
    error = rpc_error(caught)
    assert error.reason == "UPSTREAM_REJECTED"
    assert error_metadata(error)["attempts"] == "1", "a credential error is neither retried nor passed on"


async def test_an_unreachable_deployment_is_a_connection_error_and_falls_back(mock_upstream, start_router) -> None:
    closed_port = {"api_base": "http://127.0.0.1:9/v1"}
    router = await start_router(
        chain(
            mock_upstream,
            [mock_upstream.deployment("d-gone", "mock-fast", **closed_port)],
            [mock_upstream.deployment("d-up", "mock-fast")],
        )
    )

    response = await router.complete("primary")

    assert outcomes(response) == [
        ("d-gone", "CONNECTION_ERROR", 0),
        ("d-gone", "CONNECTION_ERROR", 1),
        ("d-up", "SUCCESS", 0),
    ]
    assert [a.http_status for a in response.attempts] == [0, 0, 0]


async def test_a_breaker_opens_skips_its_deployment_and_closes_after_a_good_probe(mock_upstream, start_router) -> None:
    # Fails its first two calls (which open the breaker), then answers: the probe after the cooldown succeeds.
    router = await start_router(
        chain(
            mock_upstream,
            [mock_upstream.deployment("d-flaky", "mock-flaky-2-breaker")],
            [mock_upstream.deployment("d-up", "mock-fast")],
        ),
        breaker_consecutive_failures=2,
        breaker_cooldown_seconds=0.3,
    )

    async def breaker_of(name: str) -> int:
        listed = (await router.stub.ListDeployments(router_pb2.ListDeploymentsRequest(), timeout=5)).deployments
        return next(d.breaker for d in listed if d.name == name)

    first = await router.complete("primary")
    assert outcomes(first)[-1] == ("d-up", "SUCCESS", 0)
    assert await breaker_of("d-flaky") == router_pb2.BREAKER_STATE_OPEN

    skipped = await router.complete("primary")
    assert outcomes(skipped) == [("d-flaky", "CIRCUIT_OPEN", 0), ("d-up", "SUCCESS", 0)]
    assert (await mock_upstream.stats("mock-flaky-2-breaker"))["received"] == 2, "an open breaker sends nothing"

    await asyncio.sleep(0.35)
    assert await breaker_of("d-flaky") == router_pb2.BREAKER_STATE_HALF_OPEN
    probed = await router.complete("primary")
    assert outcomes(probed) == [("d-flaky", "SUCCESS", 0)]
    assert await breaker_of("d-flaky") == router_pb2.BREAKER_STATE_CLOSED
