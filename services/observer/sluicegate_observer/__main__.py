"""Entry point: `python -m sluicegate_observer` (or `sluicegate-observer`)."""

from __future__ import annotations

from sluicegate.runtime.server import ServiceSpec, run_service
from sluicegate.runtime.settings import load_settings
from sluicegate_observer.app import make_build
from sluicegate_observer.settings import ObserverSettings


def spec() -> ServiceSpec:
    """The service as `python -m sluicegate.colocated` hosts it beside others."""
    settings = load_settings(ObserverSettings)
    return ServiceSpec("observer", settings, make_build(settings))


def main() -> None:
    service = spec()
    run_service(service.name, service.settings, service.build)


if __name__ == "__main__":
    main()
