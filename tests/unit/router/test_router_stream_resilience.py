"""Streams that hedge a slow first token and continue a cut answer on the next deployment, with a scripted
provider; and the filter that keeps a continuation from repeating what the client already has."""

from __future__ import annotations

import pytest
from chain_testkit import CUT, HANG, REQUEST, SERVER_ERROR, ScriptedProvider, caller, in_seconds, plan_for

from sluicegate.common.v1 import decision_pb2
from sluicegate.router.v1 import router_pb2
from sluicegate.runtime.errors import ServiceError
from sluicegate_router.breaker import BreakerPolicy, BreakerState, CircuitBreakers
from sluicegate_router.continuation import CONTINUE_INSTRUCTION, RepeatFilter
from sluicegate_router.health import DeploymentHealth
from sluicegate_router.provider import ProviderRequest

PROMPT_TOKENS = 100


def ttft_seasoned(name: str, ttft_ms: float) -> DeploymentHealth:
    health = DeploymentHealth(0.5)
    for _ in range(20):
        health.record_success(name, ttft_ms * 2, ttft_ms)
    return health


async def read(events) -> tuple[str, router_pb2.StreamSummary]:
    texts, summaries = [], []
    async for event in events:
        if isinstance(event, router_pb2.StreamDelta):
            texts.append(event.text)
        else:
            summaries.append(event)
    [summary] = summaries
    return "".join(texts), summary


def outcomes(attempts) -> list[tuple[str, int]]:
    return [(attempt.deployment, attempt.outcome) for attempt in attempts]


async def test_a_slow_first_token_is_hedged_after_the_p90_ttft_and_only_the_winner_reaches_the_client() -> None:
    # a opens at once (the provider accepted the call) but its first token never comes.
    provider = ScriptedProvider({"a": [[HANG]], "b": [["b one ", "b two"]]})
    chain_caller = caller(provider, ttft_seasoned("a", 20.0), hedge_quantile=0.9)

    text, summary = await read(chain_caller.stream(plan_for("a", "b"), REQUEST, PROMPT_TOKENS, in_seconds(5)))

    assert text == "b one b two"
    cancelled, answered = summary.attempts
    assert outcomes(summary.attempts) == [
        ("a", decision_pb2.ATTEMPT_OUTCOME_CANCELLED),
        ("b", decision_pb2.ATTEMPT_OUTCOME_SUCCESS),
    ]
    # The loser's provider had accepted the call and read the prompt: metering is told to charge it.
    assert cancelled.usage.prompt_tokens == PROMPT_TOKENS and cancelled.cost_micros_usd > 0
    assert summary.cost_micros_usd == cancelled.cost_micros_usd + answered.cost_micros_usd
    (_, a_at), (_, b_at) = provider.calls
    assert 0.015 < b_at - a_at < 0.2, "the hedge starts after a's p90 time to first token"
    assert sorted(provider.closed) == ["a", "b"], "the loser's stream is closed"


async def test_a_hedge_loser_that_was_still_connecting_is_charged_nothing() -> None:
    provider = ScriptedProvider({"a": [(60, [])], "b": [["from b"]]})
    chain_caller = caller(provider, ttft_seasoned("a", 10.0), hedge_quantile=0.9)

    _, summary = await read(chain_caller.stream(plan_for("a", "b"), REQUEST, PROMPT_TOKENS, in_seconds(5)))

    cancelled = summary.attempts[0]
    assert cancelled.outcome == decision_pb2.ATTEMPT_OUTCOME_CANCELLED
    assert cancelled.usage.prompt_tokens == 0 and cancelled.cost_micros_usd == 0


async def test_a_first_token_within_the_p90_needs_no_hedge_and_streams_without_samples_never_hedge() -> None:
    prompt = ScriptedProvider({"a": [["from a"]], "b": [["from b"]]})
    unseasoned = ScriptedProvider({"a": [[(0.05, "from a")]], "b": [["from b"]]})
    plain_latencies_only = DeploymentHealth(0.5)
    for _ in range(20):
        plain_latencies_only.record_success("a", 1.0)

    text, _ = await read(
        caller(prompt, ttft_seasoned("a", 500.0), hedge_quantile=0.9).stream(
            plan_for("a", "b"), REQUEST, PROMPT_TOKENS, in_seconds(5)
        )
    )
    await read(
        caller(unseasoned, plain_latencies_only, hedge_quantile=0.9).stream(
            plan_for("a", "b"), REQUEST, PROMPT_TOKENS, in_seconds(5)
        )
    )

    assert text == "from a"
    assert [name for name, _ in prompt.calls] == ["a"]
    assert [name for name, _ in unseasoned.calls] == ["a"], "plain-call latencies are no times to first token"


async def test_once_the_first_token_is_sent_a_stall_is_not_hedged() -> None:
    provider = ScriptedProvider({"a": [["a one ", (0.1, "a two")]], "b": [["never"]]})
    chain_caller = caller(provider, ttft_seasoned("a", 10.0), hedge_quantile=0.9)

    text, summary = await read(chain_caller.stream(plan_for("a", "b"), REQUEST, PROMPT_TOKENS, in_seconds(5)))

    assert text == "a one a two"
    assert [name for name, _ in provider.calls] == ["a"]


async def test_a_cut_stream_is_continued_by_the_next_deployment_with_the_partial_answer_as_context() -> None:
    provider = ScriptedProvider({"a": [["The quick ", "brown ", CUT]], "b": [["fox jumps."]]})
    request = ProviderRequest(messages=[{"role": "user", "content": "hi"}], params={"max_tokens": 50})

    text, summary = await read(caller(provider).stream(plan_for("a", "b"), request, PROMPT_TOKENS, in_seconds(5), True))

    assert text == "The quick brown fox jumps."
    cut, continued = summary.attempts
    assert outcomes(summary.attempts) == [
        ("a", decision_pb2.ATTEMPT_OUTCOME_STREAM_CUT),
        ("b", decision_pb2.ATTEMPT_OUTCOME_SUCCESS),
    ]
    assert (cut.continuation, continued.continuation) == (False, True)
    assert cut.usage.completion_tokens > 0 and cut.cost_micros_usd > 0, "the cut attempt is still charged"
    assert summary.cost_micros_usd == cut.cost_micros_usd + continued.cost_micros_usd
    assert summary.route.continued_after_interruption and summary.route.deployment == "b"
    assert "continued" in summary.route.reason
    _, continuation = provider.requests[-1]
    assert continuation.messages == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "The quick brown "},
        {"role": "user", "content": CONTINUE_INSTRUCTION},
    ]
    assert continuation.params["max_tokens"] < 50, "the whole answer stays within the caller's max_tokens"


async def test_without_the_opt_in_a_cut_stream_ends_with_stream_interrupted() -> None:
    provider = ScriptedProvider({"a": [["The quick ", CUT]], "b": [["never"]]})

    with pytest.raises(ServiceError) as caught:
        await read(caller(provider).stream(plan_for("a", "b"), REQUEST, PROMPT_TOKENS, in_seconds(5)))

    assert caught.value.reason == "STREAM_INTERRUPTED"
    assert [name for name, _ in provider.calls] == ["a"]


async def test_a_continuation_restating_the_sent_text_reaches_the_client_once() -> None:
    provider = ScriptedProvider({"a": [["The quick ", "brown ", CUT]], "b": [["The quick br", "own fox."]]})

    text, _ = await read(caller(provider).stream(plan_for("a", "b"), REQUEST, PROMPT_TOKENS, in_seconds(5), True))

    assert text == "The quick brown fox."


async def test_when_the_continuation_fails_too_the_stream_ends_with_an_error_and_every_attempt_is_charged() -> None:
    provider = ScriptedProvider({"a": [["The quick ", CUT]], "b": [SERVER_ERROR, SERVER_ERROR]})
    events = caller(provider).stream(plan_for("a", "b"), REQUEST, PROMPT_TOKENS, in_seconds(5), True)
    texts = []

    with pytest.raises(ServiceError) as caught:
        async for event in events:
            assert isinstance(event, router_pb2.StreamDelta), "no summary after a failed continuation"
            texts.append(event.text)

    assert texts == ["The quick "]
    assert caught.value.reason == "STREAM_INTERRUPTED"
    [info] = caught.value.details
    assert info.metadata["attempts"] == "3" and int(info.metadata["cost_micros_usd"]) > 0
    assert info.metadata["model"] == "a"  # the caller records the failure under the model planned


async def test_a_continuation_never_goes_back_to_a_deployment_already_called() -> None:
    # a failed before its first token; b answered and was cut: a is not asked to continue.
    provider = ScriptedProvider({"a": [SERVER_ERROR, SERVER_ERROR], "b": [["The quick ", CUT]], "c": [["end."]]})

    text, summary = await read(
        caller(provider).stream(plan_for("a", "b", "c"), REQUEST, PROMPT_TOKENS, in_seconds(5), True)
    )

    assert text == "The quick end."
    assert [name for name, _ in provider.calls] == ["a", "a", "b", "c"]


@pytest.mark.parametrize(
    ("pieces", "passed"),
    [
        (["The quick br", "own fox"], " fox"),
        (["The qu", "ite different"], "The quite different"),
        (["Fox"], "Fox"),
        (["The quick"], ""),
    ],
)
def test_the_repeat_filter_drops_only_a_restatement_of_the_sent_text(pieces, passed) -> None:
    repeats = RepeatFilter("The quick brown")

    assert "".join(repeats.feed(piece) for piece in pieces) == passed


async def test_a_hedge_cancelled_before_it_answered_may_still_continue_the_stream() -> None:
    # a's first token comes at 0.1 s, after its p90 of 20 ms: b is called as a hedge, loses and is cancelled
    # before its first token; a's stream is cut later, and b, which never answered, continues it.
    provider = ScriptedProvider({"a": [[(0.1, "The quick "), CUT]], "b": [[HANG], ["brown fox."]]})
    chain_caller = caller(provider, ttft_seasoned("a", 20.0), hedge_quantile=0.9)

    text, summary = await read(
        chain_caller.stream(plan_for("a", "b"), REQUEST, PROMPT_TOKENS, in_seconds(5), continue_on_interruption=True)
    )

    assert text == "The quick brown fox."
    assert outcomes(summary.attempts) == [
        ("b", decision_pb2.ATTEMPT_OUTCOME_CANCELLED),
        ("a", decision_pb2.ATTEMPT_OUTCOME_STREAM_CUT),
        ("b", decision_pb2.ATTEMPT_OUTCOME_SUCCESS),
    ]


async def test_a_stream_cut_by_the_clients_deadline_is_no_failure_of_the_deployment() -> None:
    health = DeploymentHealth(0.5)
    breakers = CircuitBreakers(BreakerPolicy(consecutive_failures=1))
    provider = ScriptedProvider({"a": [["The quick ", (1.0, "never")]]})

    with pytest.raises(ServiceError) as caught:
        await read(
            caller(provider, health, breakers=breakers).stream(plan_for("a"), REQUEST, PROMPT_TOKENS, in_seconds(0.3))
        )

    assert caught.value.reason == "STREAM_INTERRUPTED"
    assert "deadline" in caught.value.message
    assert breakers.state("a") is BreakerState.CLOSED
    assert health.stats("a").recent_error_rate == 0.0
