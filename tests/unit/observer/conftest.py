"""Builders for the observer's unit tests: trace records with sensible defaults and a clock the test moves."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from sluicegate.runtime.testing import FakeClock
from sluicegate_observer.records import TraceRecord

START = 1_800_000_000.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def make_record() -> Callable[..., TraceRecord]:
    """`make_record(duration_seconds=0.2, status_code="UNAVAILABLE", ...)`: a successful chat request by default."""
    ids = itertools.count(1)

    def make(**overrides: object) -> TraceRecord:
        fields: dict[str, object] = {
            "request_id": f"req-{next(ids)}",
            "timestamp": START,
            "tenant": "acme",
            "model": "gpt-4o-mini",
            "deployment": "openai-gpt-4o-mini",
            "duration_seconds": 0.5,
            "ttft_seconds": 0.0,
            "prompt_tokens": 100,
            "completion_tokens": 20,
            "cached_tokens": 0,
            "cost_micros_usd": 30,
            "status_code": "OK",
            "error_reason": "",
            "request_type": "chat",
            "cache_outcome": "unspecified",
            "guard_blocks": (),
            "first_choice_model": "gpt-4o-mini",
            "fallbacks": 0,
            "serialized_trace": b"",
        }
        fields.update(overrides)
        return TraceRecord(**fields)

    return make
