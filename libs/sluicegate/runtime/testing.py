"""Test helpers: run a service in-process on port 0, and call it with the same channel production uses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sluicegate.runtime.server import Build, RunningServer, start_service
from sluicegate.runtime.settings import ServiceSettings


@asynccontextmanager
async def serving(name: str, settings: ServiceSettings, build: Build) -> AsyncIterator[RunningServer]:
    """Starts the service on a free port (settings.port should be 0) and stops it, with no grace, afterwards."""
    running = await start_service(name, settings, build)
    try:
        yield running
    finally:
        await running.stop(grace_seconds=0)


class FakeClock:
    """Epoch seconds that only move when a test says so; hand it to a domain class in place of `time.time`."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
