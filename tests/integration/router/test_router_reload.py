"""SIGHUP reloads the catalog without dropping the call in flight; an invalid file leaves the running catalog."""

from __future__ import annotations

import asyncio
import os
import random
import signal
from pathlib import Path

import grpc
import yaml
from router_testkit import RouterClient, catalog

from sluicegate.router.v1 import router_pb2_grpc
from sluicegate.runtime.testing import serving
from sluicegate_router.app import make_build
from sluicegate_router.settings import RouterSettings


async def test_sighup_swaps_the_catalog_while_a_call_is_in_flight(mock_upstream, tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"

    def write(directive: str, name: str) -> None:
        deployments = [mock_upstream.deployment(name, directive)]
        path.write_text(yaml.safe_dump(catalog({"m": {"deployments": deployments}})))

    write("mock-slow-400", "d-old")
    settings = RouterSettings(
        port=0, catalog_path=str(path), log_requests=False, readiness_interval_seconds=0.05, learned_classifier=False
    )
    async with (
        serving("router", settings, make_build(environ={}, rng=random.Random(1))) as running,
        grpc.aio.insecure_channel(running.address) as channel,
    ):
        router = RouterClient(router_pb2_grpc.RouterServiceStub(channel))
        in_flight = asyncio.ensure_future(router.complete("m"))
        await asyncio.sleep(0.1)

        write("mock-fast", "d-new")
        os.kill(os.getpid(), signal.SIGHUP)
        for _ in range(100):
            if (await router.route("m")).deployment == "d-new":
                break
            await asyncio.sleep(0.02)

        assert (await in_flight).route.deployment == "d-old", "the call in flight finished on the old catalog"
        assert (await router.complete("m")).route.deployment == "d-new"

        path.write_text("models: [not, a, catalog]")
        os.kill(os.getpid(), signal.SIGHUP)
        await asyncio.sleep(0.2)
        assert (await router.route("m")).deployment == "d-new", "an invalid file leaves the running catalog"
