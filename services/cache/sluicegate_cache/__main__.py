"""Run the cache service: `python -m sluicegate_cache` (or `sluicegate-cache`)."""

from __future__ import annotations

from sluicegate.runtime.server import run_service
from sluicegate.runtime.settings import load_settings
from sluicegate_cache.app import make_build
from sluicegate_cache.settings import CacheSettings


def main() -> None:
    settings = load_settings(CacheSettings)
    run_service("cache", settings, make_build(settings))


if __name__ == "__main__":
    main()
