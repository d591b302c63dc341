"""Calling along the fallback chain: retries with backoff, fallbacks, the record of every attempt, the deadline."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import grpc
from google.protobuf.message import Message as ProtoMessage
from google.rpc import error_details_pb2
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from sluicegate.common.v1 import chat_pb2, decision_pb2, errors_pb2
from sluicegate.router.v1 import router_pb2
from sluicegate.runtime.errors import ServiceError, error_info, retry_info
from sluicegate.runtime.logs import get_logger
from sluicegate.runtime.tracing import get_tracer
from sluicegate_router.breaker import BreakerState, CircuitBreakers
from sluicegate_router.failures import Failure
from sluicegate_router.health import DeploymentHealth
from sluicegate_router.limits import DeploymentLimits
from sluicegate_router.openai_format import assistant_message, finish_reason
from sluicegate_router.planner import Candidate, RoutePlan
from sluicegate_router.provider import Provider, ProviderAnswer, ProviderChunk, ProviderRequest
from sluicegate_router.retry_budget import RetryBudget
from sluicegate_router.settings import RouterSettings

T = TypeVar("T")

log = get_logger(__name__)

# The chain's own clock ran out: the deployment's timeout or the request's deadline.
_TIMED_OUT = Failure(decision_pb2.ATTEMPT_OUTCOME_TIMEOUT, message="no answer in the time allowed")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often to call one deployment, how long to wait in between, and when not to start a call at all."""

    attempts_per_deployment: int
    backoff_base_seconds: float
    backoff_cap_seconds: float
    max_retry_after_seconds: float
    default_retry_after_seconds: float
    min_attempt_seconds: float
    # Hedging of plain calls: 0 is off; else the share of the deployment's recent latencies to wait for
    # (0.9: its p90) before the next deployment of the chain is called too. At most one hedge per request.
    hedge_quantile: float = 0.0
    hedge_min_samples: int = 20

    @classmethod
    def from_settings(cls, settings: RouterSettings) -> RetryPolicy:
        return cls(
            attempts_per_deployment=settings.attempts_per_deployment,
            backoff_base_seconds=settings.backoff_base_seconds,
            backoff_cap_seconds=settings.backoff_cap_seconds,
            max_retry_after_seconds=settings.max_retry_after_seconds,
            default_retry_after_seconds=settings.default_retry_after_seconds,
            min_attempt_seconds=settings.min_attempt_seconds,
            hedge_quantile=settings.hedge_quantile,
            hedge_min_samples=settings.hedge_min_samples,
        )


def estimate_text_tokens(characters: int) -> int:
    """Tokens in generated text when the provider reports none (about 3.5 characters a token, as for prompts)."""
    return (characters * 2 + 6) // 7


def _estimated_usage(prompt_tokens: int, completion_characters: int) -> chat_pb2.Usage:
    completion = estimate_text_tokens(completion_characters)
    return chat_pb2.Usage(
        prompt_tokens=prompt_tokens, completion_tokens=completion, total_tokens=prompt_tokens + completion
    )


class _Walk:
    """One request's progress along its chain: every attempt made and every failure met."""

    def __init__(self, plan: RoutePlan, tracer: Tracer, tokens: int = 0) -> None:
        self.plan = plan
        self._tracer = tracer
        # The call's worst-case tokens (prompt + max_tokens), counted against deployments' tokens-per-minute.
        self.tokens = tokens
        self.attempts: list[decision_pb2.Attempt] = []
        self.failures: list[Failure] = []
        # The last failure of each deployment tried, by name: what the chain as a whole failed with.
        self.last_failures: dict[str, Failure] = {}
        # Whether this request has hedged already: at most once per request.
        self.hedged = False

    @property
    def cost_micros_usd(self) -> int:
        return sum(attempt.cost_micros_usd for attempt in self.attempts)

    def record(
        self,
        candidate: Candidate,
        retry: int,
        started: float,
        outcome: int,
        failure: Failure | None = None,
        usage: chat_pb2.Usage | None = None,
        ttft_ms: float = 0.0,
    ) -> None:
        price = candidate.deployment.price
        attempt = decision_pb2.Attempt(
            model=candidate.model,
            deployment=candidate.deployment.name,
            outcome=outcome,
            error_message=failure.message if failure else "",
            retry=retry,
            duration_ms=(time.monotonic() - started) * 1000,
            ttft_ms=ttft_ms,
            usage=usage,
            cost_micros_usd=price.cost_micros(
                usage.prompt_tokens, usage.completion_tokens, usage.cached_prompt_tokens, usage.reasoning_tokens
            )
            if usage is not None
            else 0,
            http_status=failure.http_status if failure else 0,
        )
        self.attempts.append(attempt)
        _attempt_span(self._tracer, candidate, attempt)
        if failure is not None:
            self.failures.append(failure)
            self.last_failures[candidate.deployment.name] = failure

    def route(self, candidate: Candidate) -> decision_pb2.RouteDecision:
        """The plan's decision, changed to name the deployment that actually answered."""
        decision = decision_pb2.RouteDecision()
        decision.CopyFrom(self.plan.decision)
        if candidate.deployment.name != decision.deployment:
            decision.model = candidate.model
            decision.deployment = candidate.deployment.name
            decision.provider = candidate.deployment.provider
            failed = len(self.failures)
            decision.reason = (
                f"{decision.reason.rstrip('.')}; {candidate.deployment.name} answered after {failed} failed attempt(s)."
            )
        return decision

    def error(
        self, code: grpc.StatusCode, reason: int, message: str, extra: tuple[ProtoMessage, ...] = ()
    ) -> ServiceError:
        """An error whose ErrorInfo tells the caller what the failed attempts were and cost (metering charges it)."""
        metadata = {
            "attempts": str(len(self.attempts)),
            "cost_micros_usd": str(self.cost_micros_usd),
            "deployments": ",".join(dict.fromkeys(a.deployment for a in self.attempts)),
        }
        return ServiceError(code, message, [error_info(reason, metadata), *extra])

    def out_of_time(self) -> ServiceError:
        return self.error(
            grpc.StatusCode.DEADLINE_EXCEEDED,
            errors_pb2.ERROR_REASON_DEADLINE_TOO_SHORT,
            f"the request's deadline left no time for another provider call after {len(self.attempts)} attempt(s)",
        )

    def rejected(self, candidate: Candidate, failure: Failure) -> ServiceError:
        return self.error(
            grpc.StatusCode.FAILED_PRECONDITION,
            errors_pb2.ERROR_REASON_UPSTREAM_REJECTED,
            f"{candidate.deployment.name} rejected the request ({failure.message}); it is not retried",
        )

    def exhausted(self, default_retry_after_seconds: float) -> ServiceError:
        """The chain ran out: UNAVAILABLE if any deployment may recover, else the refusal every one gave."""
        last = list(self.last_failures.values())
        if not last or any(failure.transient for failure in last):
            asked = [f.retry_after_seconds for f in self.failures if f.retry_after_seconds is not None]
            # The longest wait any provider asked for: coming back sooner would call it too early.
            delay = max(asked) if asked else default_retry_after_seconds
            return self.error(
                grpc.StatusCode.UNAVAILABLE,
                errors_pb2.ERROR_REASON_UPSTREAM_UNAVAILABLE,
                f"every deployment of the chain failed ({len(self.attempts)} attempts)",
                (retry_info(delay),),
            )
        if any(failure.outcome == decision_pb2.ATTEMPT_OUTCOME_CONTENT_POLICY for failure in last):
            return self.error(
                grpc.StatusCode.FAILED_PRECONDITION,
                errors_pb2.ERROR_REASON_CONTENT_POLICY,
                "the providers refused the content under their content policies",
            )
        description = "the prompt and max_tokens exceed the context window of every deployment that was tried"
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field="call.messages", description=description)
            ]
        )
        return self.error(
            grpc.StatusCode.INVALID_ARGUMENT,
            errors_pb2.ERROR_REASON_CONTEXT_WINDOW_EXCEEDED,
            description,
            (bad_request,),
        )


@dataclass(frozen=True, slots=True)
class _OpenedStream:
    """A stream that has produced its first content (or ended without any), with the chunks read so far."""

    chunks: AsyncIterator[ProviderChunk]
    read_ahead: list[ProviderChunk]
    first_content_at: float


class ChainCaller:
    """Calls a plan's chain: each deployment up to `attempts_per_deployment` times on retryable failures, with
    full-jitter backoff (or the provider's Retry-After), then the next; never past the request's deadline.
    A deployment whose circuit breaker is open is skipped (an attempt with outcome CIRCUIT_OPEN)."""

    def __init__(
        self,
        provider: Provider,
        health: DeploymentHealth,
        breakers: CircuitBreakers,
        policy: RetryPolicy,
        rng: random.Random,
        tracer: Tracer | None = None,
        retry_budget: RetryBudget | None = None,
        limits: DeploymentLimits | None = None,
    ) -> None:
        self._tracer = tracer or get_tracer("sluicegate.router")
        self._retry_budget = retry_budget or RetryBudget()
        self._limits = limits or DeploymentLimits()
        self._provider = provider
        self._health = health
        self._breakers = breakers
        self._policy = policy
        self._rng = rng

    async def complete(
        self, plan: RoutePlan, request: ProviderRequest, prompt_tokens: int, deadline: float
    ) -> router_pb2.CompleteResponse:
        walk = _Walk(plan, self._tracer, prompt_tokens + _max_tokens(request))

        async def call(candidate: Candidate) -> tuple[Candidate, float, ProviderAnswer]:
            partner = self._hedge_partner(walk, candidate)
            if partner is not None:
                walk.hedged = True
                return await self._hedged(walk, candidate, partner[0], partner[1], request)
            return candidate, time.monotonic(), await self._provider.complete(candidate.deployment, request)

        called, retry, started, (candidate, answer_started, answer) = await self._first_success(walk, deadline, call)
        if candidate is not called:
            retry, started = 0, answer_started
        usage = answer.usage if answer.usage is not None else _estimated_usage(prompt_tokens, len(answer.text))
        walk.record(candidate, retry, started, decision_pb2.ATTEMPT_OUTCOME_SUCCESS, usage=usage)
        self._health.record_success(candidate.deployment.name, walk.attempts[-1].duration_ms)
        self._breakers.record_success(candidate.deployment.name)
        return router_pb2.CompleteResponse(
            message=assistant_message(answer.text, answer.tool_calls),
            finish_reason=finish_reason(answer.finish_reason),
            route=walk.route(candidate),
            attempts=walk.attempts,
            usage=usage,
            cost_micros_usd=walk.cost_micros_usd,
            model=candidate.model,
        )

    async def stream(
        self, plan: RoutePlan, request: ProviderRequest, prompt_tokens: int, deadline: float
    ) -> AsyncIterator[router_pb2.StreamDelta | router_pb2.StreamSummary]:
        """Deltas, then a summary. Failures before the first content fall back along the chain unseen; a failure
        after it ends the stream with UNAVAILABLE / STREAM_INTERRUPTED."""
        walk = _Walk(plan, self._tracer, prompt_tokens + _max_tokens(request))

        async def call(candidate: Candidate):
            return await self._open_stream(candidate, request)

        candidate, retry, started, opened = await self._first_success(walk, deadline, call)
        ttft_ms = (opened.first_content_at - started) * 1000
        characters = 0
        finish: str | None = None
        usage: chat_pb2.Usage | None = None
        chunks = opened.chunks
        try:
            pending = list(opened.read_ahead)
            while True:
                if pending:
                    chunk: ProviderChunk | None = pending.pop(0)
                else:
                    async with asyncio.timeout(max(deadline - time.monotonic(), 0.0)):
                        chunk = await anext(chunks, None)
                if chunk is None:
                    break
                finish = chunk.finish_reason or finish
                if chunk.usage is not None:
                    usage = chunk.usage
                if chunk.text or chunk.tool_calls:
                    characters += len(chunk.text) + sum(len(c.arguments_json) for c in chunk.tool_calls)
                    yield router_pb2.StreamDelta(
                        text=chunk.text,
                        tool_calls=chunk.tool_calls,
                        completion_tokens_so_far=estimate_text_tokens(characters),
                    )
        except Exception as error:  # noqa: BLE001 - a provider failure becomes STREAM_INTERRUPTED, others re-raise
            failure = _TIMED_OUT if isinstance(error, TimeoutError) else self._provider.classify(error)
            if failure is None:
                raise
            # The provider billed what it generated before the cut, so the attempt carries that cost.
            partial = _estimated_usage(prompt_tokens, characters)
            walk.record(candidate, retry, started, decision_pb2.ATTEMPT_OUTCOME_STREAM_CUT, failure, partial, ttft_ms)
            self._health.record_failure(candidate.deployment.name)
            self._breakers.record_failure(candidate.deployment.name)
            raise walk.error(
                grpc.StatusCode.UNAVAILABLE,
                errors_pb2.ERROR_REASON_STREAM_INTERRUPTED,
                f"the stream from {candidate.deployment.name} broke off after its answer began ({failure.message})",
            ) from None
        finally:
            await chunks.aclose()
        if usage is None:
            usage = _estimated_usage(prompt_tokens, characters)
        walk.record(candidate, retry, started, decision_pb2.ATTEMPT_OUTCOME_SUCCESS, usage=usage, ttft_ms=ttft_ms)
        self._health.record_success(candidate.deployment.name, walk.attempts[-1].duration_ms, ttft_ms)
        self._breakers.record_success(candidate.deployment.name)
        yield router_pb2.StreamSummary(
            finish_reason=finish_reason(finish),
            route=walk.route(candidate),
            attempts=walk.attempts,
            usage=usage,
            cost_micros_usd=walk.cost_micros_usd,
            model=candidate.model,
        )

    async def _open_stream(self, candidate: Candidate, request: ProviderRequest) -> _OpenedStream:
        """Opens a stream and reads up to its first content, so that failures before it can still fall back."""
        chunks = await self._provider.stream(candidate.deployment, request)
        read_ahead: list[ProviderChunk] = []
        try:
            async for chunk in chunks:
                read_ahead.append(chunk)
                if chunk.text or chunk.tool_calls:
                    break
        except BaseException:
            await chunks.aclose()
            raise
        return _OpenedStream(chunks, read_ahead, time.monotonic())

    async def _first_success(
        self, walk: _Walk, deadline: float, call: Callable[[Candidate], Awaitable[T]]
    ) -> tuple[Candidate, int, float, T]:
        """Walks the chain until a call succeeds; records every failed attempt; raises when the chain is spent."""
        policy = self._policy
        for candidate in walk.plan.chain:
            name = candidate.deployment.name
            if not self._breakers.allow(name):
                walk.record(candidate, 0, time.monotonic(), decision_pb2.ATTEMPT_OUTCOME_CIRCUIT_OPEN, self._open(name))
                continue
            wait = self._limits.admit(candidate.deployment, walk.tokens)
            if wait is not None:
                at_limit = Failure(
                    decision_pb2.ATTEMPT_OUTCOME_RATE_LIMITED,
                    retry_after_seconds=wait,
                    message="skipped: the deployment is at its requests- or tokens-per-minute limit",
                )
                walk.record(candidate, 0, time.monotonic(), at_limit.outcome, at_limit)
                continue
            for retry in range(policy.attempts_per_deployment):
                # A retry goes ahead only while the breaker allows it: the failure before may have opened it.
                if retry and not self._breakers.allow(name):
                    break
                remaining = deadline - time.monotonic()
                if remaining < policy.min_attempt_seconds:
                    raise walk.out_of_time()
                if retry == 0:
                    self._retry_budget.record_call()
                started = time.monotonic()
                try:
                    async with asyncio.timeout(min(remaining, candidate.deployment.timeout_seconds)):
                        return candidate, retry, started, await call(candidate)
                except TimeoutError:
                    failure = _TIMED_OUT
                except Exception as error:  # noqa: BLE001 - classified below; anything unknown is re-raised
                    failure = self._provider.classify(error)
                    if failure is None:
                        raise
                walk.record(candidate, retry, started, failure.outcome, failure)
                log.info(
                    "provider call failed",
                    deployment=candidate.deployment.name,
                    outcome=decision_pb2.AttemptOutcome.Name(failure.outcome),
                    http_status=failure.http_status,
                    retry=retry,
                )
                if failure.retryable:
                    self._health.record_failure(name)
                    self._breakers.record_failure(name)
                else:
                    # A refusal is an answer: the deployment is up.
                    self._breakers.record_success(name)
                if failure.rejected:
                    raise walk.rejected(candidate, failure)
                if not failure.retryable or retry + 1 == policy.attempts_per_deployment:
                    break
                if not self._retry_budget.try_retry():
                    log.info("retry budget spent, falling back", deployment=name)
                    break
                pause = self._pause(retry, failure, deadline)
                if pause is None:
                    break
                await asyncio.sleep(pause)
        if deadline - time.monotonic() < policy.min_attempt_seconds:
            # The chain may have ended only because the time did: the deadline is the truer account.
            raise walk.out_of_time()
        raise walk.exhausted(policy.default_retry_after_seconds)

    def _hedge_partner(self, walk: _Walk, candidate: Candidate) -> tuple[Candidate, float] | None:
        """The deployment to call beside this one, and after how many seconds; None when not hedging."""
        policy = self._policy
        if not policy.hedge_quantile or walk.hedged:
            return None
        wait_ms = self._health.latency_quantile_ms(
            candidate.deployment.name, policy.hedge_quantile, policy.hedge_min_samples
        )
        if wait_ms is None:
            return None
        for other in walk.plan.chain:
            name = other.deployment.name
            if name != candidate.deployment.name and self._breakers.state(name) is BreakerState.CLOSED:
                return other, wait_ms / 1000
        return None

    async def _hedged(
        self, walk: _Walk, candidate: Candidate, partner: Candidate, wait_seconds: float, request: ProviderRequest
    ) -> tuple[Candidate, float, ProviderAnswer]:
        """Calls `candidate`; if it has not answered after `wait_seconds`, calls `partner` too and keeps the first
        answer, cancelling the other call (recorded as CANCELLED). If both fail, the partner's failure is
        recorded here and the candidate's is raised to the chain walk."""
        started = {candidate: time.monotonic()}
        calls = {asyncio.ensure_future(self._provider.complete(candidate.deployment, request)): candidate}
        try:
            done, _ = await asyncio.wait(calls, timeout=wait_seconds)
            if done:
                return candidate, started[candidate], next(iter(done)).result()
            started[partner] = time.monotonic()
            calls[asyncio.ensure_future(self._provider.complete(partner.deployment, request))] = partner
            log.info("hedging", deployment=candidate.deployment.name, hedge=partner.deployment.name)
            failed: dict[Candidate, Exception] = {}
            while len(failed) < len(calls):
                done, _ = await asyncio.wait(
                    [task for task, who in calls.items() if who not in failed], return_when=asyncio.FIRST_COMPLETED
                )
                for task in done:
                    who = calls[task]
                    error = task.exception()
                    if error is not None and not isinstance(error, Exception):
                        raise error
                    if error is None:
                        for loser in calls.values():
                            if loser is not who and loser not in failed:
                                walk.record(loser, 0, started[loser], decision_pb2.ATTEMPT_OUTCOME_CANCELLED)
                        return who, started[who], task.result()
                    failed[who] = error
            partner_failure = self._provider.classify(failed[partner])
            if partner_failure is not None:
                walk.record(partner, 0, started[partner], partner_failure.outcome, partner_failure)
            raise failed[candidate]
        finally:
            for task in calls:
                task.cancel()

    def _open(self, deployment: str) -> Failure:
        return Failure(
            decision_pb2.ATTEMPT_OUTCOME_CIRCUIT_OPEN,
            retry_after_seconds=self._breakers.retry_after_seconds(deployment),
            message="skipped: the deployment's circuit breaker is open",
        )

    def _pause(self, retry: int, failure: Failure, deadline: float) -> float | None:
        """The wait before calling the same deployment again; None to fall back to the next one at once."""
        policy = self._policy
        if failure.retry_after_seconds is not None:
            if failure.retry_after_seconds > policy.max_retry_after_seconds:
                return None
            pause = failure.retry_after_seconds
        else:
            pause = self._rng.uniform(0.0, min(policy.backoff_cap_seconds, policy.backoff_base_seconds * 2**retry))
        if time.monotonic() + pause + policy.min_attempt_seconds > deadline:
            return None
        return pause


def _attempt_span(tracer: Tracer, candidate: Candidate, attempt: decision_pb2.Attempt) -> None:
    """One CLIENT span per provider call with the OpenTelemetry GenAI attributes, timed after the fact so failed
    attempts and fallbacks appear in the request's trace exactly as they happened."""
    end_ns = time.time_ns()
    provider_model = candidate.deployment.litellm_model.split("/", 1)[-1]
    succeeded = attempt.outcome == decision_pb2.ATTEMPT_OUTCOME_SUCCESS
    attributes: dict[str, str | int] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": candidate.deployment.provider,
        "gen_ai.request.model": provider_model,
        "gen_ai.usage.input_tokens": attempt.usage.prompt_tokens,
        "gen_ai.usage.output_tokens": attempt.usage.completion_tokens,
        "sluicegate.model": attempt.model,
        "sluicegate.deployment": attempt.deployment,
        "sluicegate.attempt.retry": attempt.retry,
        "sluicegate.cost_micros_usd": attempt.cost_micros_usd,
    }
    if succeeded:
        attributes["gen_ai.response.model"] = provider_model
    else:
        attributes["error.type"] = decision_pb2.AttemptOutcome.Name(attempt.outcome).removeprefix("ATTEMPT_OUTCOME_")
    span = tracer.start_span(
        f"chat {provider_model}",
        kind=SpanKind.CLIENT,
        start_time=end_ns - int(attempt.duration_ms * 1_000_000),
        attributes=attributes,
    )
    if not succeeded:
        span.set_status(Status(StatusCode.ERROR, attributes["error.type"]))
    span.end(end_time=end_ns)


def _max_tokens(request: ProviderRequest) -> int:
    value = request.params.get("max_tokens") or request.params.get("max_completion_tokens") or 0
    return int(value)
