"""Runs the orchestrator: `python -m sluicegate_orchestrator`."""

from sluicegate.runtime.server import run_service
from sluicegate.runtime.settings import load_settings
from sluicegate_orchestrator.app import build
from sluicegate_orchestrator.settings import OrchestratorSettings


def main() -> None:
    run_service("orchestrator", load_settings(OrchestratorSettings), build)


if __name__ == "__main__":
    main()
