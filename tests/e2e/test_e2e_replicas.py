"""Two replicas of every service behind Envoy: requests spread over them and every answer is the same."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from sluicegate.client import GatewayClient
from sluicegate.common.v1 import chat_pb2
from sluicegate.devstack.stack import Stack, StackConfig

SERVICES = ("orchestrator", "router", "guard", "cache", "metering", "observer")


@pytest.fixture(scope="module")
def replicated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(
        StackConfig(
            run_dir=tmp_path_factory.mktemp("replicas"),
            gateway_port=0,
            use_mock_upstream=True,
            replicas={name: 2 for name in SERVICES},
            env={"ORCHESTRATOR_KEY_CACHE_SECONDS": "0"},
        )
    )
    stack.start()
    yield stack
    stack.stop()


def _calls_served(stack: Stack, service: str) -> list[int]:
    """RPCs each replica served, health checks aside. Every method counts: a request makes two calls to the
    router (Route, Complete) and to the guard (input, output), and round robin may send the first of each pair
    to one replica and the second to the other for as long as the traffic lasts."""
    counts = []
    for process in stack.processes[service]:
        lines = process.log_records()
        counts.append(
            sum(1 for line in lines if line.get("event") == "rpc" and "grpc.health" not in line.get("method", ""))
        )
    return counts


def test_requests_spread_over_replicas_and_answers_are_identical(replicated: Stack) -> None:
    spread = ("orchestrator", "router", "guard", "metering")
    client = GatewayClient(replicated.gateway_address, replicated.api_key, timeout_seconds=30)
    answers: set[str] = set()
    served: dict[str, list[int]] = {}
    deadline = time.monotonic() + 60
    try:
        # Channels reach a replica that is still connecting a moment later; keep going until every replica served.
        while time.monotonic() < deadline:
            for _ in range(8):
                response = client.chat(
                    "Explain replicas to me, my email is ann@example.com",
                    model="balanced",
                    cache=chat_pb2.CacheControl(no_cache=True),
                )
                answers.add(response.message.content[0].text)
            served = {service: _calls_served(replicated, service) for service in spread}
            if all(min(counts) > 0 for counts in served.values()):
                break
    finally:
        client.close()
    # PII was pseudonymised by one guard replica and restored by whichever served the output scan.
    assert len(answers) == 1 and "ann@example.com" in next(iter(answers))
    for service, counts in served.items():
        assert min(counts) > 0, f"{service} replicas served {counts}"
