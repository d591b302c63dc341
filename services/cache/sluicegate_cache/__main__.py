"""Run the cache service: `python -m sluicegate_cache` (or `sluicegate-cache`)."""

from __future__ import annotations

from sluicegate.runtime.server import ServiceSpec, run_service
from sluicegate.runtime.settings import load_settings
from sluicegate_cache.app import make_build
from sluicegate_cache.settings import CacheSettings


def spec() -> ServiceSpec:
    """The service as `python -m sluicegate.colocated` hosts it beside others."""
    settings = load_settings(CacheSettings)
    return ServiceSpec("cache", settings, make_build(settings))


def main() -> None:
    service = spec()
    run_service(service.name, service.settings, service.build)


if __name__ == "__main__":
    main()
