"""CompleteStream through the real router and litellm: deltas and summary, fallback before the first token,
an error status after it, and a client's cancellation reaching the provider."""

from __future__ import annotations

import pytest
from router_testkit import catalog, error_metadata, read_all, read_until_interrupted

from sluicegate.common.v1 import chat_pb2, decision_pb2


def fallback_catalog(mock, primary_directive: str) -> dict:
    return catalog(
        {
            "primary": {"deployments": [mock.deployment("d-primary", primary_directive)], "fallbacks": ["backup"]},
            "backup": {"deployments": [mock.deployment("d-backup", "mock-fast")]},
        }
    )


async def test_a_stream_sends_deltas_then_a_summary(mock_upstream, start_router) -> None:
    # The mock drips its chunks: chunks that reach the router in one network read leave it as one delta.
    router = await start_router(catalog({"primary": {"deployments": [mock_upstream.deployment("d", "mock-drip-20")]}}))

    deltas, summary = await read_all(router.stream("primary", "hello there"))

    text = "".join(d.text for d in deltas)
    assert len(deltas) >= 8
    assert text.startswith("Mock answer from mock-drip-20: you said: hello there")
    assert [d.completion_tokens_so_far for d in deltas] == sorted(d.completion_tokens_so_far for d in deltas)
    assert summary.finish_reason == chat_pb2.FINISH_REASON_STOP
    assert summary.model == "primary" and summary.route.deployment == "d"
    assert summary.usage.completion_tokens > 0 and summary.usage.prompt_tokens > 0
    [attempt] = summary.attempts
    assert attempt.outcome == decision_pb2.ATTEMPT_OUTCOME_SUCCESS
    assert 0 < attempt.ttft_ms <= attempt.duration_ms
    assert summary.cost_micros_usd == attempt.cost_micros_usd > 0


@pytest.mark.parametrize(
    ("directive", "outcome"),
    [
        ("mock-status-503", decision_pb2.ATTEMPT_OUTCOME_SERVER_ERROR),
        # The stream opens (HTTP 200, a role-only chunk) and is cut before any content.
        ("mock-cut-0", decision_pb2.ATTEMPT_OUTCOME_CONNECTION_ERROR),
    ],
)
async def test_a_failure_before_the_first_token_falls_back_unseen(
    mock_upstream, start_router, directive, outcome
) -> None:
    router = await start_router(fallback_catalog(mock_upstream, directive))

    deltas, summary = await read_all(router.stream("primary"))

    assert "".join(d.text for d in deltas).startswith("Mock answer from mock-fast")
    assert [(a.deployment, a.outcome) for a in summary.attempts] == [
        ("d-primary", outcome),
        ("d-primary", outcome),
        ("d-backup", decision_pb2.ATTEMPT_OUTCOME_SUCCESS),
    ]
    assert summary.model == "backup" and summary.route.deployment == "d-backup"


async def test_a_cut_after_the_first_token_ends_the_stream_with_stream_interrupted(mock_upstream, start_router) -> None:
    router = await start_router(fallback_catalog(mock_upstream, "mock-cut-3"))

    text, error = await read_until_interrupted(router.stream("primary"))

    assert text.startswith("Mock answer")
    # What was generated before the cut is billed, so the caller learns its cost.
    assert error_metadata(error)["attempts"] == "1"
    assert int(error_metadata(error)["cost_micros_usd"]) > 0
    assert await mock_upstream.stats("mock-fast") == {}, "no fallback once the answer has begun"


async def test_a_client_that_cancels_cancels_the_provider_call(mock_upstream, start_router) -> None:
    router = await start_router(
        catalog({"primary": {"deployments": [mock_upstream.deployment("d", "mock-drip-300-chunks-20")]}})
    )
    call = router.stream("primary")

    first = await call.read()
    assert first.delta.text
    call.cancel()

    counters = await mock_upstream.wait_for("mock-drip-300-chunks-20", "cancelled", 1)
    assert counters["succeeded"] == 0 and counters["in_flight"] == 0
