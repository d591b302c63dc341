"""Breaker state and health averages reach /metrics, read at scrape time from the router's own state."""

from __future__ import annotations

import urllib.request

from prometheus_client import CollectorRegistry

from sluicegate.catalog import parse_catalog
from sluicegate.runtime.metrics import serve_metrics
from sluicegate.runtime.server import ServiceApp
from sluicegate.runtime.settings import ServiceSettings
from sluicegate_router.breaker import BreakerPolicy, CircuitBreakers
from sluicegate_router.health import DeploymentHealth
from sluicegate_router.metrics import DeploymentCollector

PRICE = {"input_per_mtok_usd": 1.0, "output_per_mtok_usd": 2.0}
CATALOG = parse_catalog(
    {
        "tiers": dict.fromkeys(("simple", "medium", "complex", "creative"), "m"),
        "models": {
            "m": {
                "tier": "medium",
                "deployments": [
                    {"name": "good", "litellm_model": "openai/a", "price": PRICE},
                    {"name": "bad", "litellm_model": "openai/b", "price": PRICE},
                ],
            }
        },
    }
)


async def test_breaker_state_and_health_are_scraped_over_http() -> None:
    health = DeploymentHealth(0.5)
    breakers = CircuitBreakers(BreakerPolicy(consecutive_failures=2), clock=lambda: 100.0)
    health.record_success("good", 200.0)
    for _ in range(2):
        health.record_failure("bad")
        breakers.record_failure("bad")
    registry = CollectorRegistry()
    registry.register(DeploymentCollector(lambda: CATALOG, health, breakers))
    app = ServiceApp(name="router", settings=ServiceSettings())
    port = serve_metrics(app, registry, "127.0.0.1", 0)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    finally:
        for cleanup in app.cleanups:
            await cleanup()
    assert 'sluicegate_router_breaker_state{deployment="bad",model="m"} 2.0' in text
    assert 'sluicegate_router_breaker_state{deployment="good",model="m"} 0.0' in text
    assert 'sluicegate_router_latency_ewma_seconds{deployment="good",model="m"} 0.2' in text
    assert 'sluicegate_router_error_rate{deployment="bad",model="m"}' in text
