"""Runs the router service: `python -m sluicegate_router`."""

from __future__ import annotations

from sluicegate.runtime.server import ServiceSpec, run_service
from sluicegate.runtime.settings import load_settings
from sluicegate_router.app import build
from sluicegate_router.settings import RouterSettings


def spec() -> ServiceSpec:
    """The service as `python -m sluicegate.colocated` hosts it beside others."""
    return ServiceSpec("router", load_settings(RouterSettings), build)


def main() -> None:
    service = spec()
    run_service(service.name, service.settings, service.build)


if __name__ == "__main__":
    main()
