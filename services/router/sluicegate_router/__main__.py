"""Runs the router service: `python -m sluicegate_router`."""

from __future__ import annotations

from sluicegate.runtime.server import run_service
from sluicegate.runtime.settings import load_settings
from sluicegate_router.app import build
from sluicegate_router.settings import RouterSettings


def main() -> None:
    run_service("router", load_settings(RouterSettings), build)


if __name__ == "__main__":
    main()
