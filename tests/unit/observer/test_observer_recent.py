"""The ring buffer: bounded, indexed by request id, one record per request, queried by trace time."""

from __future__ import annotations

from sluicegate_observer.recent import RecentTraces

START = 1_800_000_000.0


def test_ring_buffer_keeps_only_the_latest_records(make_record):
    traces = RecentTraces(capacity=3)
    records = [make_record(request_id=f"r{i}", timestamp=START + i) for i in range(5)]
    for record in records:
        traces.add(record)

    assert len(traces) == 3
    assert traces.get("r0") is None
    assert traces.get("r1") is None
    assert traces.get("r4") is records[4]
    assert [record.request_id for record in traces.between(0, float("inf"))] == ["r2", "r3", "r4"]


def test_a_request_id_already_held_is_not_kept_twice(make_record):
    traces = RecentTraces(capacity=3)
    first = make_record(request_id="same")

    assert traces.add(first) is True
    assert traces.add(make_record(request_id="same", duration_seconds=9.0)) is False
    assert len(traces) == 1
    assert traces.get("same") is first


def test_between_selects_by_trace_time_not_arrival_order(make_record):
    traces = RecentTraces(capacity=10)
    for offset in (30, 10, 20, 40):
        traces.add(make_record(request_id=f"at-{offset}", timestamp=START + offset))

    selected = traces.between(START + 10, START + 25)

    assert sorted(record.request_id for record in selected) == ["at-10", "at-20"]
