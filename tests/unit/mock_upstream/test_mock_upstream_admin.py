"""The /_mock admin API changes behaviours at run time, and /_mock/stats reports how requests ended."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from sluicegate_mock_upstream import create_app

StatsWaiter = Callable[[str, Callable[[dict[str, int]], bool]], Awaitable[dict[str, int]]]


def chat_body(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hello there"}], **extra}


async def test_put_behaviour_changes_the_next_answer_and_delete_restores_startup() -> None:
    app = create_app({"mock-a": {"answer": "from the start-up file"}})
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
        put = await client.put("/_mock/behaviours/mock-a", json={"error_rate": 1, "error_status": 503})
        assert put.status == 200
        assert (await put.json())["behaviour"]["error_status"] == 503
        # PUT replaces the model's entry as a whole: the start-up answer is no longer part of it.
        assert (await put.json())["behaviour"]["answer"] is None
        assert (await client.post("/v1/chat/completions", json=chat_body("mock-a"))).status == 503

        listed = await (await client.get("/_mock/behaviours")).json()
        assert listed["overrides"] == {"mock-a": {"error_rate": 1.0, "error_status": 503}}
        assert listed["startup"] == {"mock-a": {"answer": "from the start-up file"}}
        assert listed["effective"]["mock-a"]["error_rate"] == 1.0

        reset = await client.delete("/_mock/behaviours")
        assert reset.status == 200
        answer = await (await client.post("/v1/chat/completions", json=chat_body("mock-a"))).json()
        assert answer["choices"][0]["message"]["content"] == "from the start-up file"


async def test_default_behaviour_applies_to_every_model_under_its_own_entries(upstream: TestClient) -> None:
    await upstream.put("/_mock/behaviours/*", json={"error_rate": 1.0, "error_status": 500})
    await upstream.put("/_mock/behaviours/mock-healthy", json={"error_rate": 0.0})

    assert (await upstream.post("/v1/chat/completions", json=chat_body("mock-any"))).status == 500
    assert (await upstream.post("/v1/chat/completions", json=chat_body("mock-healthy"))).status == 200


async def test_delete_one_override(upstream: TestClient) -> None:
    await upstream.put("/_mock/behaviours/mock-b", json={"content_policy": True})
    assert (await upstream.post("/v1/chat/completions", json=chat_body("mock-b"))).status == 400

    assert (await upstream.delete("/_mock/behaviours/mock-b")).status == 200
    assert (await upstream.delete("/_mock/behaviours/mock-b")).status == 404
    assert (await upstream.post("/v1/chat/completions", json=chat_body("mock-b"))).status == 200


async def test_put_rejects_unknown_knobs_and_bad_values(upstream: TestClient) -> None:
    unknown = await upstream.put("/_mock/behaviours/mock-c", json={"delay": 5})
    bad_rate = await upstream.put("/_mock/behaviours/mock-c", json={"error_rate": 2})
    bad_status = await upstream.put("/_mock/behaviours/mock-c", json={"error_status": 200})
    not_json = await upstream.put("/_mock/behaviours/mock-c", data=b"{")

    for response in (unknown, bad_rate, bad_status, not_json):
        assert response.status == 400
    assert "delay" in (await unknown.json())["error"]["message"]
    assert (await upstream.get("/_mock/behaviours")).status == 200
    assert (await (await upstream.get("/_mock/behaviours")).json())["overrides"] == {}


async def test_put_resets_fail_first_n_progress(upstream: TestClient) -> None:
    await upstream.put("/_mock/behaviours/mock-d", json={"fail_first_n": 1, "error_status": 500})
    statuses = [(await upstream.post("/v1/chat/completions", json=chat_body("mock-d"))).status for _ in range(2)]
    await upstream.put("/_mock/behaviours/mock-d", json={"fail_first_n": 1, "error_status": 500})
    again = (await upstream.post("/v1/chat/completions", json=chat_body("mock-d"))).status

    assert statuses == [500, 200]
    assert again == 500


async def test_stats_count_each_outcome_and_reset(upstream: TestClient) -> None:
    await upstream.post("/v1/chat/completions", json=chat_body("mock-fast"))
    await upstream.post("/v1/chat/completions", json=chat_body("mock-fast", stream=True))
    await upstream.post("/v1/chat/completions", json=chat_body("mock-flaky-1"))
    await upstream.post("/v1/chat/completions", json=chat_body("mock-flaky-1"))

    stats = await (await upstream.get("/_mock/stats")).json()
    assert stats["models"]["mock-fast"] == {
        "received": 2, "succeeded": 2, "failed": 0, "cut": 0, "cancelled": 0, "in_flight": 0,
    }  # fmt: skip
    assert stats["models"]["mock-flaky-1"]["failed"] == 1
    assert stats["models"]["mock-flaky-1"]["succeeded"] == 1
    assert stats["total"]["received"] == 4

    assert (await upstream.delete("/_mock/stats")).status == 200
    assert (await (await upstream.get("/_mock/stats")).json())["models"] == {}
    # The reset also restarts fail_first_n, so retry tests can run one after another.
    assert (await upstream.post("/v1/chat/completions", json=chat_body("mock-flaky-1"))).status == 503


async def test_client_leaving_a_stream_is_counted_as_cancelled(
    upstream: TestClient, wait_for_stats: StatsWaiter
) -> None:
    response = await upstream.post("/v1/chat/completions", json=chat_body("mock-drip-100-chunks-20", stream=True))
    first_line = await response.content.readline()
    assert first_line.startswith(b"data: ")
    in_flight = await wait_for_stats("mock-drip-100-chunks-20", lambda stats: stats["in_flight"] == 1)
    assert in_flight["cancelled"] == 0

    response.close()

    counters = await wait_for_stats("mock-drip-100-chunks-20", lambda stats: stats["cancelled"] == 1)
    assert counters["succeeded"] == 0
    assert counters["in_flight"] == 0


async def test_client_timing_out_on_a_slow_model_is_counted_as_cancelled(
    upstream: TestClient, wait_for_stats: StatsWaiter
) -> None:
    with pytest.raises(asyncio.TimeoutError):
        await upstream.post(
            "/v1/chat/completions", json=chat_body("mock-slow-5000"), timeout=aiohttp.ClientTimeout(total=0.2)
        )

    counters = await wait_for_stats("mock-slow-5000", lambda stats: stats["cancelled"] == 1)
    assert counters["succeeded"] == 0


@pytest.fixture
async def server_without_handler_cancellation() -> AsyncIterator[str]:
    """Serve the app the way ``web.run_app`` does by default: handlers are not cancelled on disconnect."""
    runner = web.AppRunner(create_app(), handler_cancellation=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("model", ["mock-hang", "mock-slow-5000"])
async def test_cancel_is_counted_even_when_handlers_are_not_cancelled(
    server_without_handler_cancellation: str, model: str
) -> None:
    base_url = server_without_handler_cancellation
    async with aiohttp.ClientSession() as session:
        with pytest.raises(asyncio.TimeoutError):
            await session.post(
                f"{base_url}/v1/chat/completions", json=chat_body(model), timeout=aiohttp.ClientTimeout(total=0.2)
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 3.0
        counters: dict[str, int] = {}
        while loop.time() < deadline:
            counters = (await (await session.get(f"{base_url}/_mock/stats")).json())["models"][model]
            if counters["cancelled"] == 1:
                break
            await asyncio.sleep(0.02)

    assert counters["cancelled"] == 1
    assert counters["in_flight"] == 0
