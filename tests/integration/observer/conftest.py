"""Fixtures for the observer's integration tests: an observer on a clock the test moves."""

from __future__ import annotations

import pytest
from observer_harness import START, observer_serving


@pytest.fixture
async def observer():
    """Tenant labels capped at 2 and a 150-trace buffer, so the tests can reach both bounds."""
    async with observer_serving([START], max_tenant_labels=2, recent_traces=150) as running:
        yield running
