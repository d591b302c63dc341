"""Entry point: `python -m sluicegate_guard` serves GuardService until SIGTERM."""

from sluicegate.runtime.server import run_service
from sluicegate.runtime.settings import load_settings
from sluicegate_guard.app import build
from sluicegate_guard.settings import GuardSettings


def main() -> None:
    run_service("guard", load_settings(GuardSettings), build)


if __name__ == "__main__":
    main()
