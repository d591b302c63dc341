"""Runs the metering service: `python -m sluicegate_metering`."""

from sluicegate.runtime.server import ServiceSpec, run_service
from sluicegate.runtime.settings import load_settings
from sluicegate_metering.app import build
from sluicegate_metering.settings import MeteringSettings


def spec() -> ServiceSpec:
    """The service as `python -m sluicegate.colocated` hosts it beside others."""
    return ServiceSpec("metering", load_settings(MeteringSettings), build)


def main() -> None:
    service = spec()
    run_service(service.name, service.settings, service.build)


if __name__ == "__main__":
    main()
