"""The chain walk with a scripted provider: deadlines, backoff, Retry-After, unknown errors, health."""

from __future__ import annotations

import dataclasses
import random
import time

import grpc
import pytest
from chain_testkit import HANG, REQUEST, SERVER_ERROR, ScriptedProvider, caller, in_seconds, plan_for
from google.rpc import error_details_pb2

from sluicegate.common.v1 import decision_pb2
from sluicegate.runtime.errors import ServiceError
from sluicegate_router.breaker import BreakerPolicy, BreakerState, CircuitBreakers
from sluicegate_router.chain import ChainCaller, RetryPolicy
from sluicegate_router.failures import Failure
from sluicegate_router.health import DeploymentHealth
from sluicegate_router.limits import DeploymentLimits
from sluicegate_router.retry_budget import RetryBudget

CONTEXT = Failure(decision_pb2.ATTEMPT_OUTCOME_CONTEXT_WINDOW_EXCEEDED, 400)
POLICY = Failure(decision_pb2.ATTEMPT_OUTCOME_CONTENT_POLICY, 400)


class TopOfRange(random.Random):
    """Always draws the top of the range, so the longest backoff full jitter allows is taken."""

    def uniform(self, a: float, b: float) -> float:
        return b


async def test_no_call_starts_without_enough_time_left() -> None:
    provider = ScriptedProvider({"a": ["never"]})

    with pytest.raises(ServiceError) as caught:
        await caller(provider).complete(plan_for("a"), REQUEST, 1, in_seconds(0.01))

    assert caught.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert caught.value.reason == "DEADLINE_TOO_SHORT"
    assert provider.calls == []


async def test_a_call_gets_only_the_time_left_before_the_deadline() -> None:
    provider = ScriptedProvider({"a": [HANG], "b": ["never reached"]})
    started = time.monotonic()

    with pytest.raises(ServiceError) as caught:
        await caller(provider).complete(plan_for("a", "b"), REQUEST, 1, in_seconds(0.2))

    assert caught.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert 0.2 <= time.monotonic() - started < 0.5
    assert [name for name, _ in provider.calls] == ["a"]


async def test_backoff_waits_at_most_the_doubling_cap() -> None:
    provider = ScriptedProvider({"a": [SERVER_ERROR, SERVER_ERROR, "ok"]})
    chain = caller(
        provider, rng=TopOfRange(), attempts_per_deployment=3, backoff_base_seconds=0.05, backoff_cap_seconds=0.08
    )

    completion = await chain.complete(plan_for("a"), REQUEST, 1, in_seconds(5))

    gaps = [later - earlier for (_, earlier), (_, later) in zip(provider.calls, provider.calls[1:], strict=False)]
    assert 0.05 <= gaps[0] < 0.2 and 0.08 <= gaps[1] < 0.25
    assert [a.retry for a in completion.attempts] == [0, 1, 2]


async def test_a_retry_after_longer_than_allowed_falls_back_at_once() -> None:
    slow_down = Failure(decision_pb2.ATTEMPT_OUTCOME_RATE_LIMITED, 429, retry_after_seconds=30)
    provider = ScriptedProvider({"a": [slow_down], "b": ["ok"]})
    started = time.monotonic()

    completion = await caller(provider).complete(plan_for("a", "b"), REQUEST, 1, in_seconds(5))

    assert [name for name, _ in provider.calls] == ["a", "b"]
    assert time.monotonic() - started < 0.5
    assert completion.message.content[0].text == "ok"


async def test_a_retry_after_within_the_limit_is_waited_for_instead_of_the_backoff() -> None:
    slow_down = Failure(decision_pb2.ATTEMPT_OUTCOME_RATE_LIMITED, 429, retry_after_seconds=0.15)
    provider = ScriptedProvider({"a": [slow_down, "ok"]})

    completion = await caller(provider).complete(plan_for("a"), REQUEST, 1, in_seconds(5))

    (_, first), (_, second) = provider.calls
    assert 0.15 <= second - first < 0.4, "the backoff here is 0 s: only Retry-After explains the wait"
    assert [a.retry for a in completion.attempts] == [0, 1]


async def test_an_error_that_is_no_provider_failure_is_raised_as_is() -> None:
    provider = ScriptedProvider({"a": [KeyError("bug")], "b": ["ok"]})

    with pytest.raises(KeyError):
        await caller(provider).complete(plan_for("a", "b"), REQUEST, 1, in_seconds(5))

    assert [name for name, _ in provider.calls] == ["a"]


@pytest.mark.parametrize(
    ("script", "code", "reason"),
    [
        ({"a": [CONTEXT], "b": [POLICY]}, grpc.StatusCode.FAILED_PRECONDITION, "CONTENT_POLICY"),
        ({"a": [CONTEXT], "b": [CONTEXT]}, grpc.StatusCode.INVALID_ARGUMENT, "CONTEXT_WINDOW_EXCEEDED"),
        ({"a": [CONTEXT], "b": [SERVER_ERROR, SERVER_ERROR]}, grpc.StatusCode.UNAVAILABLE, "UPSTREAM_UNAVAILABLE"),
    ],
)
async def test_a_spent_chain_reports_what_may_still_help(script, code, reason) -> None:
    with pytest.raises(ServiceError) as caught:
        await caller(ScriptedProvider(script)).complete(plan_for("a", "b"), REQUEST, 1, in_seconds(5))

    assert (caught.value.code, caught.value.reason) == (code, reason)


async def test_health_counts_provider_outages_but_not_refusals() -> None:
    health = DeploymentHealth(0.5)
    provider = ScriptedProvider({"a": [SERVER_ERROR, SERVER_ERROR], "b": [CONTEXT], "c": ["ok"]})

    await caller(provider, health).complete(plan_for("a", "b", "c"), REQUEST, 1, in_seconds(5))

    assert health.stats("a").recent_error_rate == 1.0
    assert health.stats("b").calls == 0
    assert health.stats("c").recent_error_rate == 0.0 and health.stats("c").ewma_latency_ms > 0


async def test_an_open_breaker_skips_its_deployment_until_a_probe_after_the_cooldown_succeeds(clock) -> None:
    breakers = CircuitBreakers(BreakerPolicy(consecutive_failures=2, cooldown_seconds=10), clock)
    provider = ScriptedProvider({"a": [SERVER_ERROR, SERVER_ERROR, "probe ok", "ok again"], "b": ["ok", "ok"]})
    chain_caller = caller(provider, breakers=breakers)

    first = await chain_caller.complete(plan_for("a", "b"), REQUEST, 1, in_seconds(5))
    skipped = await chain_caller.complete(plan_for("a", "b"), REQUEST, 1, in_seconds(5))
    clock.now += 10
    probed = await chain_caller.complete(plan_for("a", "b"), REQUEST, 1, in_seconds(5))
    closed = await chain_caller.complete(plan_for("a", "b"), REQUEST, 1, in_seconds(5))

    assert [a.deployment for a in first.attempts] == ["a", "a", "b"]
    assert [(a.deployment, a.outcome) for a in skipped.attempts] == [
        ("a", decision_pb2.ATTEMPT_OUTCOME_CIRCUIT_OPEN),
        ("b", decision_pb2.ATTEMPT_OUTCOME_SUCCESS),
    ]
    assert probed.route.deployment == "a" and closed.route.deployment == "a"
    assert [name for name, _ in provider.calls] == ["a", "a", "b", "b", "a", "a"]


async def test_when_every_breaker_is_open_the_chain_is_unavailable_until_the_cooldown_ends(clock) -> None:
    breakers = CircuitBreakers(BreakerPolicy(consecutive_failures=1, cooldown_seconds=8), clock)
    for name in ("a", "b"):
        breakers.record_failure(name)
    clock.now += 3

    with pytest.raises(ServiceError) as caught:
        await caller(ScriptedProvider({}), breakers=breakers).complete(plan_for("a", "b"), REQUEST, 1, in_seconds(5))

    assert (caught.value.code, caught.value.reason) == (grpc.StatusCode.UNAVAILABLE, "UPSTREAM_UNAVAILABLE")
    retry = next(d for d in caught.value.details if isinstance(d, error_details_pb2.RetryInfo))
    assert retry.retry_delay.seconds == 5


def seasoned_health(name: str, latency_ms: float) -> DeploymentHealth:
    health = DeploymentHealth(0.5)
    for _ in range(20):
        health.record_success(name, latency_ms)
    return health


async def test_a_slow_call_is_hedged_after_the_deployments_p90_and_the_first_answer_wins() -> None:
    provider = ScriptedProvider({"a": [HANG], "b": ["from b"]})
    chain_caller = caller(provider, seasoned_health("a", 20.0), hedge_quantile=0.9)

    response = await chain_caller.complete(plan_for("a", "b"), REQUEST, 1, in_seconds(5))

    assert response.message.content[0].text == "from b"
    assert [(a.deployment, a.outcome) for a in response.attempts] == [
        ("a", decision_pb2.ATTEMPT_OUTCOME_CANCELLED),
        ("b", decision_pb2.ATTEMPT_OUTCOME_SUCCESS),
    ]
    (a_called, a_at), (b_called, b_at) = provider.calls
    assert (a_called, b_called) == ("a", "b")
    assert 0.015 < b_at - a_at < 0.2, "the hedge starts after a's p90 latency"


async def test_no_hedge_without_enough_latency_samples_and_a_fast_answer_needs_none() -> None:
    unseasoned = ScriptedProvider({"a": ["from a"], "b": ["from b"]})
    seasoned = ScriptedProvider({"a": ["from a"], "b": ["from b"]})

    await caller(unseasoned, hedge_quantile=0.9).complete(plan_for("a", "b"), REQUEST, 1, in_seconds(5))
    fast = await caller(seasoned, seasoned_health("a", 500.0), hedge_quantile=0.9).complete(
        plan_for("a", "b"), REQUEST, 1, in_seconds(5)
    )

    assert [name for name, _ in unseasoned.calls] == ["a"]
    assert [name for name, _ in seasoned.calls] == ["a"]
    assert [a.outcome for a in fast.attempts] == [decision_pb2.ATTEMPT_OUTCOME_SUCCESS]


async def test_when_a_hedged_call_and_its_hedge_both_fail_both_are_recorded_and_the_walk_goes_on() -> None:
    provider = ScriptedProvider({"a": [(0.1, SERVER_ERROR), "a again"], "b": [(0.05, SERVER_ERROR)]})
    chain_caller = caller(provider, seasoned_health("a", 10.0), hedge_quantile=0.9)

    response = await chain_caller.complete(plan_for("a", "b"), REQUEST, 1, in_seconds(5))

    assert [(a.deployment, a.outcome) for a in response.attempts][:3] == [
        ("b", decision_pb2.ATTEMPT_OUTCOME_SERVER_ERROR),
        ("a", decision_pb2.ATTEMPT_OUTCOME_SERVER_ERROR),
        ("a", decision_pb2.ATTEMPT_OUTCOME_SUCCESS),
    ]
    assert response.message.content[0].text == "a again", "only one hedge per request: the retry is not hedged"


async def test_every_attempt_becomes_a_genai_client_span() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    chain = ChainCaller(
        ScriptedProvider({"fast": [SERVER_ERROR, "the answer"]}),
        DeploymentHealth(0.5),
        CircuitBreakers(BreakerPolicy()),
        RetryPolicy(2, 0.0, 0.0, 1.0, 1.0, 0.05),
        random.Random(1),
        tracer=provider.get_tracer("test"),
    )
    await chain.complete(plan_for("fast"), REQUEST, prompt_tokens=10, deadline=in_seconds(5))

    failed, answered = exporter.get_finished_spans()
    assert failed.name == answered.name == "chat x"
    assert failed.attributes["error.type"] == "SERVER_ERROR" and not failed.status.is_ok
    assert answered.attributes["gen_ai.operation.name"] == "chat"
    assert answered.attributes["gen_ai.provider.name"] == "openai"
    assert answered.attributes["gen_ai.response.model"] == "x"
    assert answered.attributes["gen_ai.usage.input_tokens"] == 10
    assert answered.attributes["sluicegate.attempt.retry"] == 1


async def test_a_spent_retry_budget_falls_back_instead_of_retrying() -> None:
    from sluicegate_router.retry_budget import RetryBudget

    provider = ScriptedProvider({"fast": [SERVER_ERROR, "never reached"], "slow": ["the fallback's answer"]})
    chain = ChainCaller(
        provider,
        DeploymentHealth(0.5),
        CircuitBreakers(BreakerPolicy()),
        RetryPolicy(2, 0.0, 0.0, 1.0, 1.0, 0.05),
        random.Random(1),
        retry_budget=RetryBudget(ratio=0.0, floor_per_second=0.0, max_balance=0.0),
    )
    response = await chain.complete(plan_for("fast", "slow"), REQUEST, prompt_tokens=10, deadline=in_seconds(5))
    assert [name for name, _ in provider.calls] == ["fast", "slow"]
    assert response.message.content[0].text == "the fallback's answer"


def test_the_retry_budget_allows_a_share_of_calls_plus_a_floor() -> None:
    from sluicegate_router.retry_budget import RetryBudget

    now = [0.0]
    budget = RetryBudget(ratio=0.5, floor_per_second=1.0, max_balance=2.0, clock=lambda: now[0])
    assert budget.try_retry() and budget.try_retry() and not budget.try_retry()  # starts full, then spent
    budget.record_call()
    budget.record_call()  # two calls earn one retry
    assert budget.try_retry() and not budget.try_retry()
    now[0] += 1.0  # the floor refills one a second
    assert budget.try_retry() and not budget.try_retry()


async def test_a_deployment_at_its_requests_per_minute_limit_is_skipped_until_the_minute_passes() -> None:
    from sluicegate_router.limits import DeploymentLimits

    plan = plan_for("fast", "slow")
    first = plan.chain[0]
    limited = dataclasses.replace(first, deployment=first.deployment.model_copy(update={"rpm": 1}))
    plan = dataclasses.replace(plan, chain=(limited, *plan.chain[1:]))
    now = [0.0]
    provider = ScriptedProvider({"fast": ["first", "third"], "slow": ["second"]})
    chain = ChainCaller(
        provider,
        DeploymentHealth(0.5),
        CircuitBreakers(BreakerPolicy()),
        RetryPolicy(2, 0.0, 0.0, 1.0, 1.0, 0.05),
        random.Random(1),
        limits=DeploymentLimits(clock=lambda: now[0]),
    )
    answers = []
    for _ in range(2):
        response = await chain.complete(plan, REQUEST, prompt_tokens=10, deadline=in_seconds(5))
        answers.append(response.message.content[0].text)
    assert answers == ["first", "second"]
    assert response.attempts[0].outcome == decision_pb2.ATTEMPT_OUTCOME_RATE_LIMITED
    now[0] = 61.0
    third = await chain.complete(plan, REQUEST, prompt_tokens=10, deadline=in_seconds(5))
    assert third.message.content[0].text == "third"


async def test_when_the_hedged_call_fails_and_its_hedge_answers_both_attempts_are_recorded() -> None:
    provider = ScriptedProvider({"a": [(0.05, SERVER_ERROR)], "b": [(0.1, "from b")]})
    chain_caller = caller(provider, seasoned_health("a", 10.0), hedge_quantile=0.9)

    response = await chain_caller.complete(plan_for("a", "b"), REQUEST, 1, in_seconds(5))

    assert response.message.content[0].text == "from b"
    assert [(a.deployment, a.outcome) for a in response.attempts] == [
        ("a", decision_pb2.ATTEMPT_OUTCOME_SERVER_ERROR),
        ("b", decision_pb2.ATTEMPT_OUTCOME_SUCCESS),
    ]


def with_timeouts(plan, **seconds: float):
    """The plan with the named deployments' own timeouts set."""
    chain = tuple(
        dataclasses.replace(
            candidate, deployment=candidate.deployment.model_copy(update={"timeout_seconds": seconds[name]})
        )
        if (name := candidate.deployment.name) in seconds
        else candidate
        for candidate in plan.chain
    )
    return dataclasses.replace(plan, chain=chain)


def with_rpm(plan, **rpm: int):
    """The plan with the named deployments' requests-per-minute limits set."""
    chain = tuple(
        dataclasses.replace(candidate, deployment=candidate.deployment.model_copy(update={"rpm": rpm[name]}))
        if (name := candidate.deployment.name) in rpm
        else candidate
        for candidate in plan.chain
    )
    return dataclasses.replace(plan, chain=chain)


@pytest.mark.parametrize(
    ("a_script", "b_script", "plan"),
    [
        ([(0.05, SERVER_ERROR), SERVER_ERROR], [(0.01, SERVER_ERROR), "b again"], plan_for("a", "b", "c")),
        ([HANG, SERVER_ERROR], [HANG, "b again"], with_timeouts(plan_for("a", "b", "c"), a=0.1, b=0.2)),
    ],
    ids=["the hedge failed", "the hedge timed out after its partner did"],
)
async def test_a_deployment_called_as_a_hedge_is_not_called_again_later_in_the_request(
    a_script, b_script, plan
) -> None:
    provider = ScriptedProvider({"a": a_script, "b": b_script, "c": ["from c"]})
    chain_caller = caller(provider, seasoned_health("a", 10.0), hedge_quantile=0.9)

    response = await chain_caller.complete(plan, REQUEST, 1, in_seconds(5))

    assert response.message.content[0].text == "from c"
    assert [name for name, _ in provider.calls] == ["a", "b", "a", "c"]


async def test_a_deployment_at_its_tokens_per_minute_limit_admits_no_call_that_would_pass_it() -> None:
    from sluicegate_router.limits import DeploymentLimits

    deployment = plan_for("a").chain[0].deployment.model_copy(update={"tpm": 100})
    now = [0.0]
    limits = DeploymentLimits(clock=lambda: now[0])

    assert await limits.admit(deployment, 60) is None
    now[0] = 10.0
    assert await limits.admit(deployment, 60) == 50.0, "the first call's tokens leave the window at 60 s"
    assert await limits.admit(deployment, 40) is None, "a call that still fits goes through"
    now[0] = 60.0
    assert await limits.admit(deployment, 60) is None


async def test_a_hedge_runs_under_its_own_timeout_and_answers_after_its_partner_timed_out() -> None:
    # a gives up after its own 0.2 s; its hedge b (30 s timeout), called after a's p90 of 50 ms, answers at 0.35 s.
    provider = ScriptedProvider({"a": [HANG, HANG], "b": [(0.3, "from b")]})
    chain_caller = caller(provider, seasoned_health("a", 50.0), hedge_quantile=0.9)
    started = time.monotonic()

    response = await chain_caller.complete(with_timeouts(plan_for("a", "b"), a=0.2, b=30.0), REQUEST, 1, in_seconds(10))

    assert response.message.content[0].text == "from b"
    assert [(a.deployment, a.outcome) for a in response.attempts] == [
        ("a", decision_pb2.ATTEMPT_OUTCOME_TIMEOUT),
        ("b", decision_pb2.ATTEMPT_OUTCOME_SUCCESS),
    ]
    assert "deployment's timeout" in response.attempts[0].error_message
    assert [name for name, _ in provider.calls] == ["a", "b"]
    assert time.monotonic() - started < 1.0


async def test_a_hedge_goes_only_to_a_deployment_its_limits_admit_and_counts_as_a_call() -> None:
    plan = with_rpm(plan_for("a", "b", "c"), b=1)
    limits = DeploymentLimits()
    assert await limits.admit(plan.chain[1].deployment, 10) is None, "b's one call of this minute is taken"
    budget = RetryBudget(ratio=0.5, floor_per_second=0.0, max_balance=10.0)
    while budget.try_retry():
        pass
    provider = ScriptedProvider({"a": [(0.3, "from a")], "b": ["never"], "c": ["from c"]})
    chain = ChainCaller(
        provider,
        seasoned_health("a", 20.0),
        CircuitBreakers(BreakerPolicy()),
        RetryPolicy(2, 0.0, 0.0, 1.0, 1.0, 0.05, hedge_quantile=0.9),
        random.Random(1),
        retry_budget=budget,
        limits=limits,
    )

    response = await chain.complete(plan, REQUEST, prompt_tokens=10, deadline=in_seconds(5))

    assert response.message.content[0].text == "from c"
    assert [name for name, _ in provider.calls] == ["a", "c"], "b is at its rpm: the hedge passes it over"
    assert await limits.admit(plan.chain[1].deployment, 10) is not None
    assert budget.try_retry(), "the first call and its hedge each earned half a retry"


async def test_a_call_cut_short_by_the_clients_deadline_is_no_failure_of_the_deployment_but_its_timeout_is() -> None:
    health = DeploymentHealth(0.5)
    breakers = CircuitBreakers(BreakerPolicy(consecutive_failures=2))
    provider = ScriptedProvider({"a": [(0.3, "slow")] * 3 + [HANG, "a again"], "b": ["from b"]})
    chain_caller = caller(provider, health, breakers=breakers, attempts_per_deployment=1)

    for _ in range(3):
        with pytest.raises(ServiceError) as caught:
            await chain_caller.complete(plan_for("a"), REQUEST, 1, in_seconds(0.1))
        assert caught.value.code == grpc.StatusCode.DEADLINE_EXCEEDED

    assert breakers.state("a") is BreakerState.CLOSED
    assert health.stats("a").recent_error_rate == 0.0
    # The deployment's own timeout (0.1 s, shorter than the deadline) is its failure, as before.
    timed_out = await chain_caller.complete(with_timeouts(plan_for("a", "b"), a=0.1), REQUEST, 1, in_seconds(5))
    assert [(a.deployment, a.outcome) for a in timed_out.attempts] == [
        ("a", decision_pb2.ATTEMPT_OUTCOME_TIMEOUT),
        ("b", decision_pb2.ATTEMPT_OUTCOME_SUCCESS),
    ]
    assert health.stats("a").recent_error_rate > 0.0


async def test_a_first_call_that_fails_before_its_hedge_is_due_leaves_the_hedge_to_a_later_call() -> None:
    health = DeploymentHealth(0.5)
    for name in ("a", "b"):
        for _ in range(20):
            health.record_success(name, 20.0)
    provider = ScriptedProvider({"a": [SERVER_ERROR], "b": [(1.0, "slow b")], "c": ["from c"]})
    chain_caller = caller(provider, health, hedge_quantile=0.9, attempts_per_deployment=1)

    response = await chain_caller.complete(plan_for("a", "b", "c"), REQUEST, 1, in_seconds(5))

    assert response.message.content[0].text == "from c"
    assert [(a.deployment, a.outcome) for a in response.attempts] == [
        ("a", decision_pb2.ATTEMPT_OUTCOME_SERVER_ERROR),
        ("b", decision_pb2.ATTEMPT_OUTCOME_CANCELLED),
        ("c", decision_pb2.ATTEMPT_OUTCOME_SUCCESS),
    ]


async def test_a_retry_counts_against_the_deployments_rpm_and_at_the_limit_falls_back() -> None:
    budget = RetryBudget(ratio=0.0, floor_per_second=0.0, max_balance=1.0)
    provider = ScriptedProvider({"a": [SERVER_ERROR, "never"], "b": ["from b"]})
    chain = ChainCaller(
        provider,
        DeploymentHealth(0.5),
        CircuitBreakers(BreakerPolicy()),
        RetryPolicy(2, 0.0, 0.0, 1.0, 1.0, 0.05),
        random.Random(1),
        retry_budget=budget,
        limits=DeploymentLimits(),
    )

    response = await chain.complete(
        with_rpm(plan_for("a", "b"), a=1), REQUEST, prompt_tokens=10, deadline=in_seconds(5)
    )

    assert [name for name, _ in provider.calls] == ["a", "b"]
    assert [(a.deployment, a.retry, a.outcome) for a in response.attempts] == [
        ("a", 0, decision_pb2.ATTEMPT_OUTCOME_SERVER_ERROR),
        ("a", 1, decision_pb2.ATTEMPT_OUTCOME_RATE_LIMITED),
        ("b", 0, decision_pb2.ATTEMPT_OUTCOME_SUCCESS),
    ]
    assert budget.try_retry(), "the retry that was not made gave its token back"


async def test_a_retry_budget_token_is_taken_only_for_a_retry_that_is_made() -> None:
    too_long = Failure(decision_pb2.ATTEMPT_OUTCOME_RATE_LIMITED, 429, retry_after_seconds=30.0)
    budget = RetryBudget(ratio=0.0, floor_per_second=0.0, max_balance=1.0)
    provider = ScriptedProvider({"a": [too_long, SERVER_ERROR, "a again"], "b": ["from b", "from b"]})
    chain = ChainCaller(
        provider,
        DeploymentHealth(0.5),
        CircuitBreakers(BreakerPolicy()),
        RetryPolicy(2, 0.0, 0.0, 1.0, 1.0, 0.05),
        random.Random(1),
        retry_budget=budget,
    )

    fell_back = await chain.complete(plan_for("a", "b"), REQUEST, prompt_tokens=10, deadline=in_seconds(5))
    retried = await chain.complete(plan_for("a", "b"), REQUEST, prompt_tokens=10, deadline=in_seconds(5))

    assert fell_back.route.deployment == "b", "a Retry-After longer than allowed falls back at once"
    assert retried.route.deployment == "a", "the budget's one token was still there for a retry"
