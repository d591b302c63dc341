"""The dashboard's JSON: traffic lands in the right time buckets, cost folds beyond the top series, spenders rank."""

from __future__ import annotations

import pytest

from sluicegate_observer.alerts import Alert
from sluicegate_observer.dashboard import MAX_SERIES, OTHERS, Window, dashboard_json, parse_range_seconds

# The records' default timestamp (see conftest).
START = 1_800_000_000.0


def test_traffic_is_bucketed_by_time_and_summed_per_model_and_tenant(make_record):
    window = Window(end=START, range_seconds=600, buckets=10)
    records = [
        make_record(timestamp=START - 590, model="fast", tenant="acme", cost_micros_usd=10, duration_seconds=0.1),
        make_record(timestamp=START - 585, model="fast", tenant="globex", cost_micros_usd=5, duration_seconds=0.3),
        make_record(timestamp=START - 1, model="big", tenant="acme", cost_micros_usd=900, status_code="INTERNAL"),
        make_record(timestamp=START, model="big", tenant="acme", cost_micros_usd=100, cache_outcome="hit_exact"),
    ]
    alert = Alert("error_rate_high", "big", 0.5, 0.01, "half of big's requests failed", fired_at=START)

    data = dashboard_json(window, records, [alert])

    assert data["buckets"][0] == START - 600
    assert data["bucket_seconds"] == 60
    assert {series["name"]: series["values"][0] for series in data["cost_by_model"]} == {"big": 0, "fast": 15}
    assert {series["name"]: series["values"][9] for series in data["cost_by_model"]} == {"big": 1000, "fast": 0}
    [p50, _, _] = data["latency_ms"]
    assert p50["values"][0] == pytest.approx(200)
    assert p50["values"][5] is None
    assert data["requests"][1]["values"][9] == 1
    assert data["cache_hit_rate"][0]["values"][9] == 1.0
    assert data["top_spenders"] == [
        {"tenant": "acme", "cost_micros_usd": 1010, "requests": 3},
        {"tenant": "globex", "cost_micros_usd": 5, "requests": 1},
    ]
    assert [(model["group"], model["error_rate"]) for model in data["models"]] == [("big", 0.5), ("fast", 0.0)]
    assert data["totals"]["requests"] == 4
    assert data["alerts"][0]["subject"] == "big"


def test_cost_series_keep_the_biggest_spenders_and_sum_the_rest(make_record):
    window = Window(end=START, range_seconds=60, buckets=1)
    records = [make_record(tenant=f"t{i}", cost_micros_usd=100 - i) for i in range(MAX_SERIES + 3)]

    series = dashboard_json(window, records, [])["cost_by_tenant"]

    assert [s["name"] for s in series] == [*(f"t{i}" for i in range(MAX_SERIES)), OTHERS]
    assert series[-1]["values"] == [sum(100 - i for i in range(MAX_SERIES, MAX_SERIES + 3))]


@pytest.mark.parametrize(
    ("minutes", "seconds"), [(None, 3600), ("15", 900), ("0", 3600), ("nan", 3600), ("x", 3600), ("99999", 86400)]
)
def test_range_parameter_is_clamped(minutes, seconds):
    assert parse_range_seconds(minutes, 60, 1440) == seconds
