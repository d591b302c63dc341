"""Entry point: `python -m sluicegate_guard` serves GuardService until SIGTERM."""

from sluicegate.runtime.server import ServiceSpec, run_service
from sluicegate.runtime.settings import load_settings
from sluicegate_guard.app import build
from sluicegate_guard.settings import GuardSettings


def spec() -> ServiceSpec:
    """The service as `python -m sluicegate.colocated` hosts it beside others."""
    return ServiceSpec("guard", load_settings(GuardSettings), build)


def main() -> None:
    service = spec()
    run_service(service.name, service.settings, service.build)


if __name__ == "__main__":
    main()
