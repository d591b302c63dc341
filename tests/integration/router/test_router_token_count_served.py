"""Route's prompt_tokens through the served router, once it is ready: litellm's count for the chosen deployment's
model, the heuristic for a model whose tokenizer litellm would have to download."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import litellm
import pytest
import yaml
from router_testkit import catalog, model_call

from sluicegate.convert import estimate_prompt_tokens
from sluicegate.router.v1 import router_pb2, router_pb2_grpc
from sluicegate.runtime.testing import serving
from sluicegate_router.app import make_build
from sluicegate_router.settings import RouterSettings

PROMPT = "Explain how a token bucket limits requests per minute across replicas, with a short example. " * 20


@pytest.fixture
async def router(mock_upstream, tmp_path: Path) -> AsyncIterator[router_pb2_grpc.RouterServiceStub]:
    """A ready router over two models: `gpt` (openai/gpt-4o) and `llama` (a llama 3 model, which litellm
    counts with a tokenizer it downloads from the Hugging Face hub; the router never does)."""
    gpt = mock_upstream.deployment("d-gpt", "mock-fast") | {"litellm_model": "openai/gpt-4o"}
    llama = mock_upstream.deployment("d-llama", "mock-fast") | {"litellm_model": "openai/llama-3-8b-instruct"}
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(catalog({"gpt": {"deployments": [gpt]}, "llama": {"deployments": [llama]}})))
    settings = RouterSettings(
        port=0, catalog_path=str(path), log_requests=False, readiness_interval_seconds=0.05, learned_classifier=False
    )
    async with serving("router", settings, make_build(environ={})) as running:
        for _ in range(200):
            if await running.check_readiness():
                break
            await asyncio.sleep(0.025)
        else:
            pytest.fail("the router never became ready (litellm's token counter did not load)")
        async with grpc.aio.insecure_channel(running.address) as channel:
            yield router_pb2_grpc.RouterServiceStub(channel)


async def route(router: router_pb2_grpc.RouterServiceStub, model: str) -> router_pb2.RouteResponse:
    return await router.Route(router_pb2.RouteRequest(call=model_call(model, PROMPT)), timeout=5)


async def test_route_counts_the_prompt_with_litellms_counter_for_an_openai_model(router) -> None:
    response = await route(router, "gpt")

    expected = litellm.token_counter(model="openai/gpt-4o", messages=[{"role": "user", "content": PROMPT}])
    heuristic = estimate_prompt_tokens(model_call("gpt", PROMPT).messages)
    assert response.decision.deployment == "d-gpt"
    assert response.prompt_tokens == expected
    assert expected != heuristic
    # The same order of magnitude as the heuristic metering used before, not a different unit.
    assert heuristic / 10 <= response.prompt_tokens <= heuristic * 10


async def test_route_falls_back_to_the_heuristic_for_a_model_litellm_cannot_count_offline(router) -> None:
    response = await route(router, "llama")

    assert response.decision.deployment == "d-llama"
    assert response.prompt_tokens == estimate_prompt_tokens(model_call("llama", PROMPT).messages)
