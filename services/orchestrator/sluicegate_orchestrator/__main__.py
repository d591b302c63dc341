"""Runs the orchestrator: `python -m sluicegate_orchestrator`."""

from sluicegate.runtime.server import ServiceSpec, run_service
from sluicegate.runtime.settings import load_settings
from sluicegate_orchestrator.app import build
from sluicegate_orchestrator.settings import OrchestratorSettings


def spec() -> ServiceSpec:
    """The service as `python -m sluicegate.colocated` hosts it beside others."""
    return ServiceSpec("orchestrator", load_settings(OrchestratorSettings), build)


def main() -> None:
    service = spec()
    run_service(service.name, service.settings, service.build)


if __name__ == "__main__":
    main()
