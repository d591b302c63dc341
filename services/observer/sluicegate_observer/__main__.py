"""Entry point: `python -m sluicegate_observer` (or `sluicegate-observer`)."""

from __future__ import annotations

from sluicegate.runtime.server import run_service
from sluicegate.runtime.settings import load_settings
from sluicegate_observer.app import make_build
from sluicegate_observer.settings import ObserverSettings


def main() -> None:
    settings = load_settings(ObserverSettings)
    run_service("observer", settings, make_build(settings))


if __name__ == "__main__":
    main()
