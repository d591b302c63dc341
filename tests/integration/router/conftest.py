"""Fixtures for the router's integration tests: litellm imported once, the mock upstream in-process, routers.

litellm is imported once per session (seconds of CPU); every router started afterwards loads its client at once.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from aiohttp import web
from router_testkit import MockUpstream, RouterClient

from sluicegate.router.v1 import router_pb2_grpc
from sluicegate.runtime.testing import serving
from sluicegate_mock_upstream import create_app
from sluicegate_router.app import make_build
from sluicegate_router.settings import RouterSettings

# Retries within milliseconds, so the retry paths run fast.
FAST_RETRIES = {
    "attempts_per_deployment": 2,
    "backoff_base_seconds": 0.01,
    "backoff_cap_seconds": 0.02,
    "max_retry_after_seconds": 1.0,
}

StartRouter = Callable[..., Awaitable[RouterClient]]


@pytest.fixture(scope="session", autouse=True)
def litellm_imported() -> None:
    """Pays litellm's import once for the session, before any router loads it in a worker thread."""
    import sluicegate_router.litellm_provider  # noqa: F401


@asynccontextmanager
async def served_mock(app: web.Application) -> AsyncIterator[MockUpstream]:
    """A mock upstream app served on a free port for the duration of the block."""
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield MockUpstream(f"http://{host}:{port}")
    finally:
        await runner.cleanup()


@pytest.fixture
async def mock_upstream() -> AsyncIterator[MockUpstream]:
    async with served_mock(create_app()) as mock:
        yield mock


@pytest.fixture
async def keyed_mock_upstream() -> AsyncIterator[MockUpstream]:
    """A mock that answers only requests bearing the API key `sk-real`."""
    async with served_mock(create_app(required_api_key="sk-real")) as mock:
        yield mock


# Every provider test runs on both call paths: the lean OpenAI-compatible client (the default for the mock's
# `openai/...` deployments) and litellm (no lean providers), so both classify every failure the same way.
PROVIDER_PATHS = {"lean": {}, "litellm": {"lean_providers": ""}}


@pytest.fixture(params=sorted(PROVIDER_PATHS))
async def start_router(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StartRouter]:
    """Starts routers over catalogs (dicts written to temporary YAML files) with an environment for API keys;
    all are stopped after the test. Parametrised over the provider call paths."""
    path_settings = PROVIDER_PATHS[request.param]
    async with AsyncExitStack() as stack:

        async def start(
            catalog_data: dict[str, Any], environ: dict[str, str] | None = None, **settings: Any
        ) -> RouterClient:
            path = tmp_path / f"catalog-{random.randrange(1 << 30)}.yaml"
            path.write_text(yaml.safe_dump(catalog_data))
            router_settings = RouterSettings(
                port=0,
                catalog_path=str(path),
                log_requests=False,
                readiness_interval_seconds=0.05,
                # The keyword rules: these tests route by them; test_router_classifier_served covers the model.
                learned_classifier=False,
                **(FAST_RETRIES | path_settings | settings),
            )
            return await stack.enter_async_context(_served(router_settings, environ or {}))

        yield start


@asynccontextmanager
async def _served(settings: RouterSettings, environ: dict[str, str]) -> AsyncIterator[RouterClient]:
    async with serving("router", settings, make_build(environ=environ, rng=random.Random(7))) as running:
        # A plain channel, not create_channel: its retries on UNAVAILABLE would call the router again and blur
        # what the tests count (and create_channel(retry=False) builds an invalid service config).
        channel = grpc.aio.insecure_channel(running.address)
        try:
            yield RouterClient(router_pb2_grpc.RouterServiceStub(channel), running.check_readiness)
        finally:
            await channel.close()
