"""Metering's domain objects over the session Redis, with a clock the tests move by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluicegate.catalog import Catalog, load_catalog
from sluicegate.runtime.redis import create_redis
from sluicegate.runtime.testing import FakeClock
from sluicegate_metering.budgets import BudgetBook
from sluicegate_metering.keys import KeyStore
from sluicegate_metering.pricing import Pricer
from sluicegate_metering.reservations import Meter

MOCK_CATALOG = Path(__file__).resolve().parents[3] / "deploy" / "catalog" / "mock.yaml"
# 2026-11-29 10:00:00 UTC
START = 1_795_946_400.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def catalog() -> Catalog:
    return load_catalog(MOCK_CATALOG)


@pytest.fixture
async def redis_client(redis_url):
    client = create_redis(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def keys(redis_client, clock) -> KeyStore:
    return KeyStore(redis_client, b"unit-test-salt", clock, cache_seconds=2)


@pytest.fixture
def budgets(redis_client, clock) -> BudgetBook:
    return BudgetBook(redis_client, clock)


@pytest.fixture
def meter(redis_client, catalog, budgets, clock) -> Meter:
    return Meter(redis_client, Pricer(catalog), budgets, clock, reservation_ttl_seconds=600)
