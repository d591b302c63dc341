"""CompleteStream against the mock upstream: a slow first token hedged on the next deployment, and a stream cut
mid-answer continued on the next deployment when the request allows it."""

from __future__ import annotations

from router_testkit import catalog, error_metadata, model_call, read_all, read_until_interrupted

from sluicegate.common.v1 import decision_pb2
from sluicegate.router.v1 import router_pb2


def chain_catalog(mock, primary_directive: str, *backups: tuple[str, str, str]) -> dict:
    """The model `primary` (one deployment, region "us") falling back to one model per (name, directive, region)."""
    models = {
        "primary": {
            "deployments": [mock.deployment("d-primary", primary_directive, region="us")],
            "fallbacks": [name for name, _, _ in backups],
        }
    }
    for name, directive, region in backups:
        models[name] = {"deployments": [mock.deployment(f"d-{name}", directive, region=region)]}
    return catalog(models)


def continued_stream(router, **fields):
    request = router_pb2.CompleteStreamRequest(call=model_call("primary", **fields), continue_on_interruption=True)
    return router.stub.CompleteStream(request, timeout=10)


async def test_a_slow_first_token_is_hedged_and_the_loser_is_cancelled_at_the_provider_and_charged(
    mock_upstream, start_router
) -> None:
    router = await start_router(
        chain_catalog(mock_upstream, "mock-hedged", ("backup", "mock-fast", "us")),
        hedge_quantile=0.9,
        hedge_min_samples=2,
    )
    for _ in range(2):
        await read_all(router.stream("primary"))
    # From now on the primary accepts at once but sends its first token only after 0.6 s, far past its p90 (the
    # mock notices the closed connection when it next writes).
    await mock_upstream.behave("mock-hedged", chunk_delay_ms=600)

    deltas, summary = await read_all(router.stream("primary"))

    assert "".join(d.text for d in deltas).startswith("Mock answer from mock-fast"), "only the winner is heard"
    cancelled, answered = summary.attempts
    assert [(a.deployment, a.outcome) for a in summary.attempts] == [
        ("d-primary", decision_pb2.ATTEMPT_OUTCOME_CANCELLED),
        ("d-backup", decision_pb2.ATTEMPT_OUTCOME_SUCCESS),
    ]
    assert cancelled.usage.prompt_tokens > 0 and cancelled.cost_micros_usd > 0
    assert summary.cost_micros_usd == cancelled.cost_micros_usd + answered.cost_micros_usd
    assert summary.route.deployment == "d-backup"
    counters = await mock_upstream.wait_for("mock-hedged", "cancelled", 1)
    assert counters["in_flight"] == 0


async def test_a_cut_stream_continues_on_the_next_deployment_when_the_request_allows_it(
    mock_upstream, start_router
) -> None:
    router = await start_router(chain_catalog(mock_upstream, "mock-cut-3", ("backup", "mock-fast", "us")))

    deltas, summary = await read_all(continued_stream(router))

    text = "".join(d.text for d in deltas)
    head, _, tail = text.partition("Mock answer from mock-fast")
    assert head.startswith("Mock answer from mock-cut-3") and tail, "the cut part, then the continuation"
    cut, continued = summary.attempts
    assert [(a.deployment, a.outcome, a.continuation) for a in summary.attempts] == [
        ("d-primary", decision_pb2.ATTEMPT_OUTCOME_STREAM_CUT, False),
        ("d-backup", decision_pb2.ATTEMPT_OUTCOME_SUCCESS, True),
    ]
    assert cut.cost_micros_usd > 0 and summary.cost_micros_usd == cut.cost_micros_usd + continued.cost_micros_usd
    assert summary.route.continued_after_interruption and summary.route.deployment == "d-backup"
    # The backup was given the partial answer: its prompt is longer than the user's message by that much.
    assert summary.usage.prompt_tokens * 4 > len(head)
    assert [d.completion_tokens_so_far for d in deltas] == sorted(d.completion_tokens_so_far for d in deltas)


async def test_the_client_never_sees_text_twice_when_the_continuation_restates_it(mock_upstream, start_router) -> None:
    answer = "One two three four five six seven eight nine ten eleven twelve."
    await mock_upstream.behave("mock-restated-cut", answer=answer, cut_after_chunks=3)
    await mock_upstream.behave("mock-restated", answer=answer)
    router = await start_router(chain_catalog(mock_upstream, "mock-restated-cut", ("backup", "mock-restated", "us")))

    deltas, summary = await read_all(continued_stream(router))

    assert "".join(d.text for d in deltas) == answer
    assert summary.route.continued_after_interruption


async def test_a_failed_continuation_ends_in_stream_interrupted_and_never_leaves_the_pinned_region(
    mock_upstream, start_router
) -> None:
    router = await start_router(
        chain_catalog(
            mock_upstream,
            "mock-cut-3",
            ("elsewhere", "mock-fast", "eu"),
            ("broken", "mock-status-503", "us"),
        )
    )

    text, error = await read_until_interrupted(continued_stream(router, region="us"))

    assert text.startswith("Mock answer from mock-cut-3")
    metadata = error_metadata(error)
    assert metadata["deployments"] == "d-primary,d-broken" and metadata["attempts"] == "3"
    assert int(metadata["cost_micros_usd"]) > 0
    assert await mock_upstream.stats("mock-fast") == {}, "the pin binds the continuation too"
