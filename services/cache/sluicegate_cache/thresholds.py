"""Semantic similarity thresholds: a floor per tenant (a default, overridden per tenant from settings or YAML);
a request may ask for a stricter threshold, never a looser one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml


@dataclass(frozen=True)
class TenantThresholds:
    """The default floor and the tenants that set their own."""

    default_floor: float
    tenant_floors: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, value in {"default": self.default_floor, **self.tenant_floors}.items():
            if not 0.0 < value <= 1.0:
                raise ValueError(f"semantic threshold for {name} must be in (0, 1], got {value}")

    def floor(self, tenant_id: str) -> float:
        return self.tenant_floors.get(tenant_id, self.default_floor)

    def effective(self, tenant_id: str, requested: float) -> float:
        """The request's `min_similarity` when it is stricter than the tenant's floor, else the floor."""
        return max(self.floor(tenant_id), requested)


def load_tenant_floors(path: str | Path | None) -> dict[str, float]:
    """Per-tenant floors from a YAML mapping `tenant_id: threshold`; no path gives none."""
    if not path:
        return {}
    loaded = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(loaded, dict):
        raise ValueError(f"{path}: expected a mapping of tenant id to threshold")
    return {str(tenant): float(value) for tenant, value in loaded.items()}
