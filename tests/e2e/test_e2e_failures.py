"""Each service's outage has its defined effect, shown by stopping that service under the running stack."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator

import grpc
import pytest

from sluicegate.client import GatewayClient
from sluicegate.common.v1 import chat_pb2, decision_pb2
from sluicegate.devstack.stack import Stack
from sluicegate.runtime.errors import ServiceError

NO_CACHE = chat_pb2.CacheControl(no_cache=True)


@pytest.fixture
def client(stack: Stack) -> Iterator[GatewayClient]:
    client = GatewayClient(stack.gateway_address, stack.api_key, timeout_seconds=30)
    yield client
    client.close()


def _eventually(call, timeout_seconds: float = 15.0):
    """The call's result once it succeeds: callers find a restarted service within their reconnect back-off."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            return call()
        except grpc.RpcError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _error(call) -> ServiceError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return ServiceError.from_rpc_error(caught.value)


def test_guard_down_fails_closed(stack: Stack, client: GatewayClient) -> None:
    stack.service("guard").stop()
    try:
        error = _error(lambda: client.chat("Describe the river", cache=NO_CACHE))
        assert error.code == grpc.StatusCode.UNAVAILABLE and error.reason == "GUARD_UNAVAILABLE"
    finally:
        stack.restart("guard")
    assert _eventually(lambda: client.chat("Describe the river", cache=NO_CACHE)).message.content[0].text


def test_metering_down_fails_closed(stack: Stack, client: GatewayClient) -> None:
    stack.service("metering").stop()
    try:
        error = _error(lambda: client.chat("Describe the lake", cache=NO_CACHE))
        assert error.code == grpc.StatusCode.UNAVAILABLE and error.reason == "METERING_UNAVAILABLE"
    finally:
        stack.restart("metering")
    assert _eventually(lambda: client.chat("Describe the lake", cache=NO_CACHE)).message.content[0].text


def test_cache_down_serves_uncached_and_caching_resumes_once_it_is_back(stack: Stack, client: GatewayClient) -> None:
    stack.service("cache").stop()
    try:
        response = client.chat("Describe the sea")
        assert response.message.content[0].text
        assert response.decision.cache.outcome == decision_pb2.CACHE_OUTCOME_ERROR
    finally:
        stack.restart("cache")
    # The orchestrator finds the cache again within its reconnect back-off (at most 2 s), and the tests after this
    # one get a stack whose cache answers.
    deadline = time.monotonic() + 15
    while client.chat("Describe the sea").decision.cache.outcome == decision_pb2.CACHE_OUTCOME_ERROR:
        assert time.monotonic() < deadline, "the cache is back, but the gateway still cannot reach it"
        time.sleep(0.3)


def _dropped_traces(stack: Stack) -> float:
    with urllib.request.urlopen(stack.metrics_url, timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith('sluicegate_traces_dropped_total{sender="orchestrator"}'):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_observer_down_serves_and_counts_what_was_lost(stack: Stack, client: GatewayClient) -> None:
    stack.service("observer").stop()
    try:
        for index in range(3):
            assert client.chat(f"Describe pond number {index}", cache=NO_CACHE).message.content[0].text
        time.sleep(1.5)  # the recorder tries to send its batch, fails, and counts the drops
    finally:
        stack.restart("observer")
    deadline = time.monotonic() + 20
    dropped = 0.0
    while time.monotonic() < deadline and dropped < 3:
        _eventually(lambda: client.chat("Describe a puddle", cache=NO_CACHE))
        time.sleep(0.5)
        dropped = _dropped_traces(stack)
    assert dropped >= 3
