"""Guard unit-test fixtures: the pattern-only scan engine built once, run on a thread instead of a process pool."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from sluicegate_guard.engine import EngineConfig, ScanEngine, ScanOptions, TextScan, build_engine
from sluicegate_guard.policy import DEFAULT_ALLOW_LIST


class ThreadScanner:
    """Runs a real engine on a worker thread: the production pool's behaviour without its start-up cost."""

    def __init__(self, engine: ScanEngine) -> None:
        self.engine = engine

    async def scan(self, texts: Sequence[str], options: ScanOptions = ScanOptions()) -> list[TextScan]:  # noqa: B008
        return await asyncio.to_thread(self.engine.scan, texts, options)

    async def ready(self) -> bool:
        return True


@pytest.fixture(scope="session")
def pattern_engine() -> ScanEngine:
    return build_engine(EngineConfig(ner=False, allow_list=DEFAULT_ALLOW_LIST))


@pytest.fixture
def thread_scanner(pattern_engine: ScanEngine) -> ThreadScanner:
    return ThreadScanner(pattern_engine)


@pytest.fixture
def scanner_on_thread() -> type[ThreadScanner]:
    """Wraps any engine (a fake analyzer's, say) the way `thread_scanner` wraps the real one."""
    return ThreadScanner
