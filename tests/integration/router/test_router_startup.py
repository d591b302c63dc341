"""Start-up: an invalid catalog stops the router naming the bad entry; SERVING only once litellm is loaded when a
deployment needs it, at once when the lean OpenAI-compatible client serves every deployment."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc
from router_testkit import catalog, model_call

from sluicegate.catalog import CatalogError
from sluicegate.router.v1 import router_pb2, router_pb2_grpc
from sluicegate.runtime.testing import serving
from sluicegate_router.app import load_litellm_provider, make_build
from sluicegate_router.servicer import SERVICE_NAME
from sluicegate_router.settings import RouterSettings


def bad_catalog(path: Path, api_base: str) -> Path:
    broken = catalog(
        {"fast": {"deployments": [{"name": "d", "litellm_model": "openai/mock-fast", "api_base": api_base}]}}
    )
    path.write_text(yaml.safe_dump(broken))
    return path


async def test_an_invalid_catalog_stops_the_start_naming_the_entry(tmp_path: Path) -> None:
    settings = RouterSettings(port=0, catalog_path=str(bad_catalog(tmp_path / "c.yaml", "http://x/v1")))

    with pytest.raises(CatalogError, match=r"models\.fast\.deployments\.0\.price"):
        async with serving("router", settings, make_build(environ={})):
            pass


def test_the_router_process_exits_naming_the_bad_entry(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ROUTER_CATALOG_PATH": str(bad_catalog(tmp_path / "c.yaml", "http://x/v1")),
        "ROUTER_PORT": "0",
    }

    result = subprocess.run(
        [sys.executable, "-m", "sluicegate_router"], env=env, capture_output=True, text=True, timeout=30
    )

    assert result.returncode != 0
    assert "models.fast.deployments.0.price" in result.stderr
    assert "LISTENING" not in result.stdout


async def test_a_catalog_the_lean_client_serves_never_loads_litellm(mock_upstream, tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(catalog({"fast": {"deployments": [mock_upstream.deployment("d", "mock-fast")]}})))

    def refuse_to_load(environ):
        raise AssertionError("litellm must not be loaded for OpenAI-compatible deployments")

    # Token counting loads litellm's counter on purpose; here the provider path alone is under test.
    settings = RouterSettings(
        port=0,
        catalog_path=str(path),
        log_requests=False,
        readiness_interval_seconds=0.05,
        learned_classifier=False,
        count_prompt_tokens=False,
    )
    async with serving("router", settings, make_build(load_provider=refuse_to_load, environ={})) as running:
        assert await running.check_readiness()
        async with grpc.aio.insecure_channel(running.address) as channel:
            response = await router_pb2_grpc.RouterServiceStub(channel).Complete(
                router_pb2.CompleteRequest(call=model_call("fast")), timeout=10
            )
        assert response.message.content[0].text.startswith("Mock answer")


async def test_the_router_is_serving_only_once_litellm_is_loaded(mock_upstream, tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(catalog({"fast": {"deployments": [mock_upstream.deployment("d", "mock-fast")]}})))
    release = threading.Event()

    def slow_load(environ):
        release.wait(timeout=10)
        return load_litellm_provider(environ)

    # No lean providers: litellm calls every deployment, so the router waits for it.
    settings = RouterSettings(
        port=0,
        catalog_path=str(path),
        log_requests=False,
        readiness_interval_seconds=0.05,
        lean_providers="",
        learned_classifier=False,
    )
    async with serving("router", settings, make_build(load_provider=slow_load, environ={})) as running:
        channel = grpc.aio.insecure_channel(running.address)
        health = health_pb2_grpc.HealthStub(channel)
        check = health_pb2.HealthCheckRequest(service=SERVICE_NAME)
        assert (await health.Check(check)).status == health_pb2.HealthCheckResponse.NOT_SERVING
        # A call made while loading waits for the client instead of failing.
        pending = router_pb2_grpc.RouterServiceStub(channel).Complete(
            router_pb2.CompleteRequest(call=model_call("fast")), timeout=10
        )

        release.set()

        response = await pending
        assert response.message.content[0].text.startswith("Mock answer")
        assert await running.check_readiness()
        assert (await health.Check(check)).status == health_pb2.HealthCheckResponse.SERVING
        await channel.close()
