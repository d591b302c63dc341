"""The article's alert table on real traffic: the mock upstream is made slow, failing, costly or uncacheable, and
each alert fires, reaches the webhook, and resolves once the traffic is healthy again."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
import time
from collections.abc import Iterator

import grpc
import httpx
import pytest

from sluicegate.client import GatewayClient
from sluicegate.common.v1 import chat_pb2
from sluicegate.devstack.processes import free_port
from sluicegate.devstack.stack import Stack, StackConfig
from sluicegate.observer.v1 import observer_pb2, observer_pb2_grpc

NO_CACHE = chat_pb2.CacheControl(no_cache=True)


class _Webhook(http.server.BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server interface
        _Webhook.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        return


@pytest.fixture(scope="module")
def webhook() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


@pytest.fixture(scope="module")
def alerting(tmp_path_factory: pytest.TempPathFactory, webhook: str) -> Iterator[Stack]:
    """A stack whose observer judges a 3 s window every 0.3 s with small thresholds, so alerts move quickly."""
    env = {
        "OBSERVER_ALERT_INTERVAL_SECONDS": "0.3",
        "OBSERVER_ALERT_WINDOW_SECONDS": "3",
        "OBSERVER_ALERT_MIN_REQUESTS": "4",
        "OBSERVER_ALERT_P95_LATENCY_SECONDS": "0.4",
        "OBSERVER_ALERT_CLEAN_EVALUATIONS": "2",
        # A budget of 100,000 micro-USD for 1,000 requests: more than 100 micro-USD a request is costly.
        "OBSERVER_ALERT_BUDGET_MICROS_USD": "100000",
        "OBSERVER_ALERT_EXPECTED_REQUESTS": "1000",
        "OBSERVER_ALERT_WEBHOOK_URL": webhook,
        "OBSERVER_ALERT_WEBHOOK_BACKOFF_SECONDS": "0.1",
        "ORCHESTRATOR_OBSERVER_FLUSH_SECONDS": "0.05",
    }
    stack = Stack(
        StackConfig(run_dir=tmp_path_factory.mktemp("alerts"), gateway_port=0, use_mock_upstream=True, env=env)
    )
    stack.start()
    yield stack
    stack.stop()


def _firing(stack: Stack) -> set[tuple[str, str]]:
    with grpc.insecure_channel(stack.gateway_address) as channel:
        response = observer_pb2_grpc.ObserverQueryServiceStub(channel).ListAlerts(
            observer_pb2.ListAlertsRequest(), metadata=(("x-admin-token", stack.admin_token),), timeout=5
        )
    return {(alert.rule, alert.subject) for alert in response.alerts if alert.state == observer_pb2.ALERT_STATE_FIRING}


def _drive_until(condition, traffic, timeout_seconds: float = 40.0) -> None:
    """Sends `traffic` and watches the alerts for two seconds, again and again until `condition` holds: a slow
    machine that spreads one batch of requests wider than the observer's window still gets there."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        traffic()
        watch_until = time.monotonic() + 2.0
        while time.monotonic() < watch_until:
            if condition():
                return
            time.sleep(0.2)
        assert time.monotonic() < deadline, "the alert state did not change in time"


def _behave(stack: Stack, model: str, behaviour: dict | None) -> None:
    mock = f"http://{stack.mock.address}/_mock/behaviours/{model}"
    response = httpx.put(mock, json=behaviour) if behaviour else httpx.delete(mock)
    response.raise_for_status()


def _traffic(client: GatewayClient, model: str, count: int, prompt: str = "Summarize this", **fields) -> None:
    for index in range(count):
        with contextlib.suppress(grpc.RpcError):  # failing traffic is the point of some scenarios
            client.chat(f"{prompt} #{index} {time.monotonic_ns()}", model=model, **fields)


@pytest.fixture(scope="module")
def client(alerting: Stack) -> Iterator[GatewayClient]:
    client = GatewayClient(alerting.gateway_address, alerting.api_key, timeout_seconds=30)
    yield client
    client.close()


def _fires_then_resolves(stack: Stack, alert: tuple[str, str], bad, good) -> None:
    _drive_until(lambda: alert in _firing(stack), bad)
    _drive_until(lambda: alert not in _firing(stack), good)


def test_slow_model_fires_the_p95_latency_alert(alerting: Stack, client: GatewayClient) -> None:
    def slow() -> None:
        _behave(alerting, "mock-fast", {"delay_ms": 600})
        _traffic(client, "fast", 5, cache=NO_CACHE)
        _behave(alerting, "mock-fast", None)

    _fires_then_resolves(
        alerting, ("latency_p95_high", "fast"), slow, lambda: _traffic(client, "fast", 6, cache=NO_CACHE)
    )


def test_failing_model_fires_the_error_rate_alert(alerting: Stack, client: GatewayClient) -> None:
    def failing() -> None:
        _behave(alerting, "mock-balanced", {"error_rate": 1, "error_status": 400})
        _traffic(client, "balanced", 5, cache=NO_CACHE)
        _behave(alerting, "mock-balanced", None)

    _fires_then_resolves(
        alerting, ("error_rate_high", "balanced"), failing, lambda: _traffic(client, "balanced", 6, cache=NO_CACHE)
    )


def test_costly_traffic_fires_the_cost_per_request_alert(alerting: Stack, client: GatewayClient) -> None:
    long_question = "Analyze this design in depth: " + "the sluice gate regulates the canal's flow. " * 12
    _fires_then_resolves(
        alerting,
        ("cost_per_request_high", "all"),
        lambda: _traffic(client, "reasoning", 5, long_question, cache=NO_CACHE),
        lambda: _traffic(client, "fast", 8, cache=NO_CACHE),
    )


def test_token_spike_fires_against_the_baseline(alerting: Stack, client: GatewayClient) -> None:
    _traffic(client, "fast", 5, cache=NO_CACHE)  # a normal window the baseline learns from
    time.sleep(1.0)
    huge = "Summarize all of this: " + "many words about canals and locks " * 60
    _fires_then_resolves(
        alerting,
        ("tokens_per_request_high", "fast"),
        lambda: _traffic(client, "fast", 5, huge, cache=NO_CACHE),
        lambda: _traffic(client, "fast", 6, cache=NO_CACHE),
    )


def test_uncached_traffic_fires_the_cache_hit_rate_alert(alerting: Stack, client: GatewayClient) -> None:
    def repeated() -> None:
        for _ in range(12):
            client.chat("What is a sluice gate?", model="fast")

    _fires_then_resolves(alerting, ("cache_hit_rate_low", "all"), lambda: _traffic(client, "fast", 6), repeated)


def test_alert_changes_reach_the_webhook(alerting: Stack) -> None:
    texts = " ".join(message["text"] for message in _Webhook.received)
    for rule in ("latency_p95_high", "error_rate_high", "cost_per_request_high", "cache_hit_rate_low"):
        assert rule in texts
