"""PromptTokenCounter: the heuristic while litellm loads and when it cannot count, long prompts off the loop."""

from __future__ import annotations

import asyncio
import threading

from sluicegate_router.provider import ProviderRequest
from sluicegate_router.token_count import PromptTokenCounter

REQUEST = ProviderRequest(messages=[{"role": "user", "content": "hello"}], params={})


class FakeCounter:
    """Counts 42 for every model but `unknown`, and records the thread each count ran on."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []

    def count(self, model: str, request: ProviderRequest) -> int | None:
        self.threads.append(threading.current_thread())
        return None if model == "unknown" else 42


async def loaded(counter: FakeCounter, inline_max_tokens: int = 100) -> PromptTokenCounter:
    tokens = PromptTokenCounter(lambda: counter, inline_max_tokens)
    for _ in range(200):
        if await tokens.ready():
            return tokens
        await asyncio.sleep(0.005)
    raise AssertionError("the counter never became ready")


async def test_a_loaded_counter_answers_and_an_unknown_model_gets_the_estimate() -> None:
    tokens = await loaded(FakeCounter())

    assert await tokens.count("openai/gpt-4o", REQUEST, estimate=7) == 42
    assert await tokens.count("unknown", REQUEST, estimate=7) == 7


async def test_short_prompts_are_counted_inline_and_long_ones_in_a_worker_thread() -> None:
    counter = FakeCounter()
    tokens = await loaded(counter, inline_max_tokens=100)

    await tokens.count("m", REQUEST, estimate=99)
    await tokens.count("m", REQUEST, estimate=100)

    assert counter.threads[0] is threading.main_thread()
    assert counter.threads[1] is not threading.main_thread()


async def test_until_the_counter_loads_it_is_not_ready_and_the_estimate_stands() -> None:
    release = threading.Event()

    def slow_load() -> FakeCounter:
        release.wait(5)
        return FakeCounter()

    tokens = PromptTokenCounter(slow_load, 100)
    try:
        assert not await tokens.ready()
        assert await tokens.count("m", REQUEST, estimate=7) == 7
    finally:
        release.set()
        await tokens.aclose()


async def test_a_counter_that_failed_to_load_keeps_the_router_not_ready() -> None:
    def broken_load() -> FakeCounter:
        raise ImportError("no litellm")

    tokens = PromptTokenCounter(broken_load, 100)
    await asyncio.sleep(0.05)

    assert not await tokens.ready()
    assert await tokens.count("m", REQUEST, estimate=7) == 7


async def test_switched_off_it_is_ready_at_once_and_uses_the_estimate() -> None:
    tokens = PromptTokenCounter(None, 100)

    assert await tokens.ready()
    assert await tokens.count("m", REQUEST, estimate=7) == 7
