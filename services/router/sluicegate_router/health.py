"""Per-deployment health from real calls: smoothed latency, time to first token and error rate."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

# Latencies and times to first token kept per deployment for their percentiles (hedging waits for the p90).
_LATENCY_SAMPLES = 64


@dataclass(slots=True)
class DeploymentStats:
    """Exponentially weighted moving averages over a deployment's recent calls."""

    ewma_latency_ms: float = 0.0
    ewma_ttft_ms: float = 0.0
    recent_error_rate: float = 0.0
    calls: int = 0
    successes: int = 0
    streams: int = 0
    recent_latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=_LATENCY_SAMPLES))
    recent_ttfts_ms: deque[float] = field(default_factory=lambda: deque(maxlen=_LATENCY_SAMPLES))


class DeploymentHealth:
    """Records the outcome of every call that says something about a deployment's health.

    Refusals caused by the request itself (bad request, context window, content policy) are not recorded:
    they say nothing about whether the deployment is up.
    """

    def __init__(self, alpha: float) -> None:
        self._alpha = alpha
        self._stats: dict[str, DeploymentStats] = {}

    def record_success(self, deployment: str, latency_ms: float, ttft_ms: float | None = None) -> None:
        stats = self._for(deployment)
        stats.ewma_latency_ms = self._smooth(stats.ewma_latency_ms, latency_ms, stats.successes)
        stats.recent_error_rate = self._smooth(stats.recent_error_rate, 0.0, stats.calls)
        stats.calls += 1
        stats.successes += 1
        stats.recent_latencies_ms.append(latency_ms)
        if ttft_ms is not None:
            stats.ewma_ttft_ms = self._smooth(stats.ewma_ttft_ms, ttft_ms, stats.streams)
            stats.streams += 1
            stats.recent_ttfts_ms.append(ttft_ms)

    def record_failure(self, deployment: str) -> None:
        stats = self._for(deployment)
        stats.recent_error_rate = self._smooth(stats.recent_error_rate, 1.0, stats.calls)
        stats.calls += 1

    def latency_quantile_ms(self, deployment: str, quantile: float, min_samples: int) -> float | None:
        """The latency below which `quantile` of the recent successful calls finished; None with too few."""
        return _quantile(self.stats(deployment).recent_latencies_ms, quantile, min_samples)

    def ttft_quantile_ms(self, deployment: str, quantile: float, min_samples: int) -> float | None:
        """The time to first token below which `quantile` of the recent successful streams began; None with
        too few."""
        return _quantile(self.stats(deployment).recent_ttfts_ms, quantile, min_samples)

    def stats(self, deployment: str) -> DeploymentStats:
        return self._stats.get(deployment) or DeploymentStats()

    def _for(self, deployment: str) -> DeploymentStats:
        stats = self._stats.get(deployment)
        if stats is None:
            stats = self._stats[deployment] = DeploymentStats()
        return stats

    def _smooth(self, average: float, value: float, seen: int) -> float:
        # The first observation is taken as is, so a new deployment does not look falsely fast or healthy.
        return value if seen == 0 else average + self._alpha * (value - average)


def _quantile(samples: deque[float], quantile: float, min_samples: int) -> float | None:
    if len(samples) < max(min_samples, 1):
        return None
    ordered = sorted(samples)
    return ordered[min(int(quantile * len(ordered)), len(ordered) - 1)]
