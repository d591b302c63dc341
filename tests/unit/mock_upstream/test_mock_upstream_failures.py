"""Each failure behaviour of the mock upstream fails the way the gateway's error paths expect."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import httpx
import pytest
from aiohttp.test_utils import TestClient, TestServer

from sluicegate_mock_upstream import create_app

StatsWaiter = Callable[[str, Callable[[dict[str, int]], bool]], Awaitable[dict[str, int]]]


def chat_body(model: str, content: str = "hello there", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


async def post_chat(client: TestClient, model: str, **extra: Any) -> aiohttp.ClientResponse:
    return await client.post("/v1/chat/completions", json=chat_body(model, **extra))


async def test_rate_limit_has_retry_after_and_openai_error_body() -> None:
    app = create_app({"mock-limited": {"error_rate": 1.0, "error_status": 429, "retry_after_seconds": 7}})
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
        response = await post_chat(client, "mock-limited")
        body = await response.json()

    assert response.status == 429
    assert response.headers["Retry-After"] == "7"
    assert body["error"]["code"] == "rate_limit_exceeded"
    assert set(body["error"]) == {"message", "type", "param", "code"}


@pytest.mark.parametrize(
    ("model", "status", "retry_after"),
    [("mock-status-500", 500, None), ("mock-status-503-retry-2", 503, "2"), ("mock-status-401", 401, None)],
)
async def test_status_directive_fails_every_request(
    upstream: TestClient, model: str, status: int, retry_after: str | None
) -> None:
    for _ in range(2):
        response = await post_chat(upstream, model)
        body = await response.json()
        assert response.status == status
        assert response.headers.get("Retry-After") == retry_after
        assert body["error"]["message"]
        assert body["error"]["type"] == ("server_error" if status >= 500 else "invalid_request_error")


async def test_retry_after_is_not_sent_on_a_500(upstream: TestClient) -> None:
    response = await post_chat(upstream, "mock-status-500-retry-5")

    assert response.status == 500
    assert "Retry-After" not in response.headers


async def test_context_window_exceeded_is_an_openai_400(upstream: TestClient) -> None:
    fits = await post_chat(upstream, "mock-ctx-100", max_tokens=50)
    too_long = await post_chat(upstream, "mock-ctx-100", content="x" * 300, max_tokens=50)

    assert fits.status == 200
    assert too_long.status == 400
    error = (await too_long.json())["error"]
    assert error["code"] == "context_length_exceeded"
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "messages"
    assert error["message"].startswith("This model's maximum context length is 100 tokens.")
    assert "125 tokens (75 in the messages, 50 in the completion)" in error["message"]


async def test_content_policy_is_a_content_filter_400(upstream: TestClient) -> None:
    response = await post_chat(upstream, "mock-policy")

    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "content_filter"
    assert error["type"] == "invalid_request_error"
    assert "content management policy" in error["message"]


async def test_flaky_model_fails_first_n_requests_then_succeeds(upstream: TestClient) -> None:
    statuses = [(await post_chat(upstream, "mock-flaky-2")).status for _ in range(4)]

    assert statuses == [503, 503, 200, 200]


async def test_flaky_counters_are_per_model_name(upstream: TestClient) -> None:
    first = await post_chat(upstream, "mock-flaky-1-a")
    other = await post_chat(upstream, "mock-flaky-1-b")

    assert (first.status, other.status) == (503, 503)


async def test_error_rate_fails_about_that_share_of_requests() -> None:
    app = create_app({"mock-half": {"error_rate": 0.5, "error_status": 500}}, seed=7)
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
        statuses = [(await post_chat(client, "mock-half")).status for _ in range(200)]

    assert set(statuses) == {200, 500}
    assert 60 < statuses.count(500) < 140


async def test_slow_model_waits_before_answering(upstream: TestClient) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await post_chat(upstream, "mock-slow-300")
    elapsed = loop.time() - started

    assert response.status == 200
    assert elapsed >= 0.3


async def test_hang_never_answers_and_counts_the_cancel(upstream: TestClient, wait_for_stats: StatsWaiter) -> None:
    with pytest.raises(asyncio.TimeoutError):
        await upstream.post(
            "/v1/chat/completions", json=chat_body("mock-hang"), timeout=aiohttp.ClientTimeout(total=0.3)
        )

    counters = await wait_for_stats("mock-hang", lambda stats: stats["cancelled"] == 1)
    assert counters["received"] == 1
    assert counters["succeeded"] == counters["failed"] == 0
    assert counters["in_flight"] == 0


async def test_cut_stream_is_seen_as_incomplete_by_aiohttp(upstream: TestClient) -> None:
    response = await post_chat(upstream, "mock-cut-3", stream=True)

    assert response.status == 200
    received = b""
    with pytest.raises(aiohttp.ClientPayloadError):
        async for line in response.content:
            received += line
    events = [block for block in received.decode().split("\n\n") if block]
    # The role chunk and three content chunks arrived; no finish chunk and no [DONE].
    assert len(events) == 4
    assert "[DONE]" not in received.decode()
    assert all(json.loads(event.removeprefix("data: "))["choices"][0]["finish_reason"] is None for event in events)


async def test_cut_stream_is_seen_as_incomplete_by_httpx(upstream: TestClient, wait_for_stats: StatsWaiter) -> None:
    url = str(upstream.make_url("/v1/chat/completions"))
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.RemoteProtocolError):
            async with client.stream("POST", url, json=chat_body("mock-cut-1", stream=True)) as response:
                async for _ in response.aiter_lines():
                    pass

    counters = await wait_for_stats("mock-cut-1", lambda stats: stats["cut"] == 1)
    assert counters["succeeded"] == 0


async def test_required_api_key_rejects_a_wrong_bearer() -> None:
    app = create_app(required_api_key="sekret")
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
        wrong = await client.post(
            "/v1/chat/completions", json=chat_body("mock-fast"), headers={"Authorization": "Bearer nope"}
        )
        missing = await client.post("/v1/chat/completions", json=chat_body("mock-fast"))
        right = await client.post(
            "/v1/chat/completions", json=chat_body("mock-fast"), headers={"Authorization": "Bearer sekret"}
        )

        assert (wrong.status, missing.status, right.status) == (401, 401, 200)
        assert (await wrong.json())["error"]["code"] == "invalid_api_key"


async def test_any_bearer_is_accepted_without_a_required_key(upstream: TestClient) -> None:
    response = await upstream.post(
        "/v1/chat/completions", json=chat_body("mock-fast"), headers={"Authorization": "Bearer whatever"}
    )

    assert response.status == 200
