"""Fixtures for the mock upstream tests: an in-process server on a free port, a client, and readers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from sluicegate_mock_upstream import create_app

SseReader = Callable[[ClientResponse], Awaitable[list[str]]]
StatsWaiter = Callable[[str, Callable[[dict[str, int]], bool]], Awaitable[dict[str, int]]]


@pytest.fixture
async def upstream() -> AsyncIterator[TestClient]:
    """A client for a fresh mock upstream with no configured behaviours, served on a free port."""
    async with TestClient(TestServer(create_app(), host="127.0.0.1", port=0)) as client:
        yield client


@pytest.fixture
def read_sse() -> SseReader:
    """Return a reader that takes a whole server-sent events body and returns each event's data."""

    async def read(response: ClientResponse) -> list[str]:
        text = (await response.read()).decode()
        assert text.endswith("\n\n"), "every SSE event ends with a blank line"
        events = []
        for block in text.split("\n\n")[:-1]:
            assert block.startswith("data: "), block
            events.append(block.removeprefix("data: "))
        return events

    return read


@pytest.fixture
def wait_for_stats(upstream: TestClient) -> StatsWaiter:
    """Return a poller of /_mock/stats that waits until a model's counters satisfy a predicate."""

    async def wait(model: str, done: Callable[[dict[str, int]], bool]) -> dict[str, int]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 3.0
        counters: dict[str, int] = {}
        while loop.time() < deadline:
            response = await upstream.get("/_mock/stats")
            counters = (await response.json())["models"].get(model, {})
            if counters and done(counters):
                return counters
            await asyncio.sleep(0.02)
        pytest.fail(f"stats of {model} never matched; last seen {counters}")

    return wait
