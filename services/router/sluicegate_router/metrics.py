"""The router's Prometheus metrics: each deployment's breaker state and health, read at scrape time."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from sluicegate.catalog import Catalog
from sluicegate_router.breaker import BreakerState, CircuitBreakers
from sluicegate_router.health import DeploymentHealth

BREAKER_VALUES = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


class DeploymentCollector(Collector):
    """Nothing is counted on the request path: a scrape reads the breakers and the health averages."""

    def __init__(self, catalog: Callable[[], Catalog], health: DeploymentHealth, breakers: CircuitBreakers) -> None:
        self._catalog = catalog
        self._health = health
        self._breakers = breakers

    def collect(self) -> Iterable[GaugeMetricFamily]:
        labels = ["model", "deployment"]
        breaker = GaugeMetricFamily(
            "sluicegate_router_breaker_state", "Circuit breaker: 0 closed, 1 half-open, 2 open.", labels=labels
        )
        latency = GaugeMetricFamily(
            "sluicegate_router_latency_ewma_seconds", "Smoothed total latency of recent calls.", labels=labels
        )
        ttft = GaugeMetricFamily(
            "sluicegate_router_ttft_ewma_seconds", "Smoothed time to first token of recent streams.", labels=labels
        )
        errors = GaugeMetricFamily(
            "sluicegate_router_error_rate", "Smoothed share of recent calls that failed.", labels=labels
        )
        for model_name, model in self._catalog().models.items():
            for deployment in model.deployments:
                values = [model_name, deployment.name]
                stats = self._health.stats(deployment.name)
                breaker.add_metric(values, BREAKER_VALUES[self._breakers.state(deployment.name)])
                latency.add_metric(values, stats.ewma_latency_ms / 1000)
                ttft.add_metric(values, stats.ewma_ttft_ms / 1000)
                errors.add_metric(values, stats.recent_error_rate)
        return [breaker, latency, ttft, errors]
