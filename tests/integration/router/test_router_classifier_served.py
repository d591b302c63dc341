"""The learned complexity classifier in the served router: readiness waits for it, then it routes auto calls."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import grpc
import yaml
from router_testkit import TIERS, catalog, model_call

from sluicegate.common.v1 import chat_pb2
from sluicegate.router.v1 import router_pb2, router_pb2_grpc
from sluicegate.runtime.testing import serving
from sluicegate_router.app import make_build
from sluicegate_router.settings import RouterSettings


async def test_auto_calls_are_classified_by_the_embedding_model_once_it_is_loaded(
    mock_upstream, tmp_path: Path
) -> None:
    models = {
        tier: {"tier": tier, "deployments": [mock_upstream.deployment(f"d-{tier}", "mock-fast")]} for tier in TIERS
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(catalog(models, tiers={tier: tier for tier in TIERS})))
    settings = RouterSettings(port=0, catalog_path=str(path), log_requests=False, readiness_interval_seconds=0.05)

    async with serving("router", settings, make_build(environ={}, rng=random.Random(1))) as running:
        for _ in range(200):
            if await running.check_readiness():
                break
            await asyncio.sleep(0.05)
        assert await running.check_readiness(), "the router turns ready once the classifier is loaded"
        async with grpc.aio.insecure_channel(running.address) as channel:
            stub = router_pb2_grpc.RouterServiceStub(channel)

            async def route(prompt: str) -> router_pb2.RouteResponse:
                return await stub.Route(router_pb2.RouteRequest(call=model_call("auto", prompt)), timeout=5)

            # No keyword matches either prompt: the rules would say medium for both.
            capital = (await route("What's the capital of Peru?")).decision
            poem = (await route("Compose a few lines about the smell of rain on a summer street")).decision

    assert (capital.complexity, capital.complexity_source) == (chat_pb2.TASK_COMPLEXITY_SIMPLE, "classifier")
    assert capital.deployment == "d-simple"
    assert poem.complexity == chat_pb2.TASK_COMPLEXITY_CREATIVE
