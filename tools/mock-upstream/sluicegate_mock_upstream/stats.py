"""Per-model request counters, so tests can see what actually reached the upstream and how it ended."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(slots=True)
class ModelStats:
    """Counters for one model; every finished request lands in exactly one of the outcome counters."""

    received: int = 0
    succeeded: int = 0
    failed: int = 0
    cut: int = 0
    cancelled: int = 0
    in_flight: int = 0


class UpstreamStats:
    """All models' counters. A request in flight during a reset updates the discarded counters only."""

    def __init__(self) -> None:
        self._by_model: dict[str, ModelStats] = {}

    def for_model(self, model: str) -> ModelStats:
        """Return the live counters of a model, creating them on its first request."""
        stats = self._by_model.get(model)
        if stats is None:
            stats = self._by_model[model] = ModelStats()
        return stats

    def reset(self) -> None:
        """Forget every counter."""
        self._by_model = {}

    def snapshot(self) -> dict[str, Any]:
        """Return ``{"models": {model: counters}, "total": counters}`` for the admin API."""
        models = {model: dataclasses.asdict(stats) for model, stats in sorted(self._by_model.items())}
        total = {field.name: 0 for field in dataclasses.fields(ModelStats)}
        for counters in models.values():
            for name, value in counters.items():
                total[name] += value
        return {"models": models, "total": total}
