"""Runs the metering service: `python -m sluicegate_metering`."""

from sluicegate.runtime.server import run_service
from sluicegate.runtime.settings import load_settings
from sluicegate_metering.app import build
from sluicegate_metering.settings import MeteringSettings


def main() -> None:
    run_service("metering", load_settings(MeteringSettings), build)


if __name__ == "__main__":
    main()
