"""Calling along the fallback chain: retries with backoff, fallbacks, the record of every attempt, the deadline."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

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
from sluicegate_router.continuation import CONTINUE_INSTRUCTION, RepeatFilter, continuation_request
from sluicegate_router.failures import REFUSED, Failure
from sluicegate_router.health import DeploymentHealth
from sluicegate_router.limits import DeploymentLimits, Limits
from sluicegate_router.openai_format import assistant_message, finish_reason
from sluicegate_router.planner import Candidate, RoutePlan
from sluicegate_router.provider import Provider, ProviderAnswer, ProviderChunk, ProviderRequest
from sluicegate_router.retry_budget import RetryBudget
from sluicegate_router.settings import RouterSettings

T = TypeVar("T")

# A deployment's recent latency or time to first token at a quantile (deployment, quantile, min samples).
QuantileOf = Callable[[str, float, int], float | None]

log = get_logger(__name__)

# The chain's own clock ran out on a call: the deployment's `timeout_seconds`, which is the deployment's failure.
_TIMED_OUT = Failure(decision_pb2.ATTEMPT_OUTCOME_TIMEOUT, message="no answer within the deployment's timeout")
# The client's deadline came first: recorded, but no failure of the deployment (its health and breaker ignore it).
_DEADLINE_PASSED = Failure(
    decision_pb2.ATTEMPT_OUTCOME_TIMEOUT,
    message="no answer before the request's deadline (the client's limit, shorter than the deployment's timeout)",
    counts_against_deployment=False,
)
_DEADLINE_CUT = Failure(
    decision_pb2.ATTEMPT_OUTCOME_TIMEOUT,
    message="the request's deadline ran out mid-answer",
    counts_against_deployment=False,
)


class _OutOfTime(Exception):
    """A call outlived the time the chain gave it; `failure` says whose limit that was."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often to call one deployment, how long to wait in between, and when not to start a call at all."""

    attempts_per_deployment: int
    backoff_base_seconds: float
    backoff_cap_seconds: float
    max_retry_after_seconds: float
    default_retry_after_seconds: float
    min_attempt_seconds: float
    # Hedging: 0 is off; else the share of the deployment's recent latencies (plain calls) or times to first
    # token (streams) to wait for (0.9: its p90) before the next deployment of the chain is called too. At most
    # one hedge per request.
    hedge_quantile: float = 0.0
    hedge_min_samples: int = 20
    # Per refusal outcome (context window, content policy): the logical models whose refusals of that kind fall
    # back to the next deployment ("*": every model). A refusal by any other model's deployment ends the call.
    refusal_fallbacks: Mapping[int, frozenset[str]] = field(
        default_factory=lambda: dict.fromkeys(REFUSED, frozenset({"*"}))
    )

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
            refusal_fallbacks=settings.refusal_fallbacks,
        )

    def falls_back_after(self, refusal: Failure, model: str) -> bool:
        """Whether a refusal by a deployment of `model` goes on to the next deployment of the chain."""
        models = self.refusal_fallbacks.get(refusal.outcome, frozenset())
        return "*" in models or model in models


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
        # The deployments called so far, hedges that answered or failed included: the walk calls none of them again
        # beyond its retries.
        self.called: set[str] = set()
        # Whether the calls now made continue a stream that was cut mid-answer (they are marked so).
        self.continuing = False

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
            continuation=self.continuing,
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
        if self.continuing:
            decision.continued_after_interruption = True
            decision.reason = (
                f"{decision.reason.rstrip('.')}; the stream was cut mid-answer and {candidate.deployment.name} "
                "continued it."
            )
        return decision

    def error(
        self, code: grpc.StatusCode, reason: int, message: str, extra: tuple[ProtoMessage, ...] = ()
    ) -> ServiceError:
        """An error whose ErrorInfo tells the caller what the failed attempts were and cost (metering charges it)."""
        metadata = {
            "model": self.plan.decision.model,
            "attempts": str(len(self.attempts)),
            "cost_micros_usd": str(self.cost_micros_usd),
            "deployments": ",".join(dict.fromkeys(a.deployment for a in self.attempts)),
        }
        return ServiceError(code, message, [error_info(reason, metadata), *extra])

    def interrupted(self, deployment: str, why: str) -> ServiceError:
        return self.error(
            grpc.StatusCode.UNAVAILABLE,
            errors_pb2.ERROR_REASON_STREAM_INTERRUPTED,
            f"the stream from {deployment} broke off after its answer began ({why})",
        )

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
        return self.refused(any(failure.outcome == decision_pb2.ATTEMPT_OUTCOME_CONTENT_POLICY for failure in last))

    def refused(self, content_policy: bool) -> ServiceError:
        """The refusal that ends the call: the content policy's, else the context window's."""
        if content_policy:
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


class _Calls(Protocol[T]):
    """One kind of provider call as the chain walk makes it (a plain call, or a stream up to its first content)."""

    # The health figure a hedge waits for (latencies for plain calls, times to first token for streams); None:
    # these calls are never hedged.
    hedge_quantile_ms: QuantileOf | None

    async def __call__(self, candidate: Candidate) -> T: ...

    def cancelled_usage(self, candidate: Candidate) -> chat_pb2.Usage | None:
        """What the provider will bill for this deployment's call, cancelled now (a hedge lost)."""
        ...

    async def discard(self, result: T) -> None:
        """Lets go of a result nobody will read (a hedge that lost by a hair)."""
        ...


class _PlainCalls:
    """Whole answers."""

    def __init__(self, provider: Provider, request: ProviderRequest, hedge_quantile_ms: QuantileOf) -> None:
        self._provider = provider
        self._request = request
        self.hedge_quantile_ms: QuantileOf | None = hedge_quantile_ms

    async def __call__(self, candidate: Candidate) -> ProviderAnswer:
        return await self._provider.complete(candidate.deployment, self._request)

    def cancelled_usage(self, candidate: Candidate) -> chat_pb2.Usage | None:
        # A plain call shows nothing of its progress before it answers: there is nothing to go on.
        return None

    async def discard(self, result: ProviderAnswer) -> None:
        return None


@dataclass(slots=True)
class _StreamProgress:
    """How far one stream got before its first content: what its provider bills if it is cancelled."""

    # The provider accepted the call (HTTP 200): it is reading the prompt, which it bills.
    accepted: bool = False
    characters: int = 0


class _StreamOpens:
    """Opens streams and reads each up to its first content, so that failures before it can still fall back."""

    def __init__(
        self,
        provider: Provider,
        request: ProviderRequest,
        prompt_tokens: int,
        hedge_quantile_ms: QuantileOf | None,
    ) -> None:
        self._provider = provider
        self.request = request
        self.prompt_tokens = prompt_tokens
        self.hedge_quantile_ms = hedge_quantile_ms
        self._progress: dict[str, _StreamProgress] = {}

    async def __call__(self, candidate: Candidate) -> _OpenedStream:
        progress = self._progress[candidate.deployment.name] = _StreamProgress()
        chunks = await self._provider.stream(candidate.deployment, self.request)
        progress.accepted = True
        read_ahead: list[ProviderChunk] = []
        try:
            async for chunk in chunks:
                read_ahead.append(chunk)
                if chunk.text or chunk.tool_calls:
                    progress.characters += _characters(chunk)
                    break
        except BaseException:
            await chunks.aclose()
            raise
        return _OpenedStream(chunks, read_ahead, time.monotonic())

    def cancelled_usage(self, candidate: Candidate) -> chat_pb2.Usage | None:
        progress = self._progress.get(candidate.deployment.name)
        if progress is None or not progress.accepted:
            return None
        return _estimated_usage(self.prompt_tokens, progress.characters)

    async def discard(self, result: _OpenedStream) -> None:
        await result.chunks.aclose()


@dataclass(frozen=True, slots=True)
class _Leg(Generic[T]):
    """One of the two calls of a hedge."""

    candidate: Candidate
    retry: int
    started: float
    task: asyncio.Future[T]


@dataclass(slots=True)
class _Relayed:
    """The answer the client has been sent so far, across the deployments that produced it."""

    text: str = ""
    characters: int = 0
    tool_calls: int = 0


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
        limits: Limits | None = None,
    ) -> None:
        self._tracer = tracer or get_tracer("sluicegate.router", "router")
        self._retry_budget = retry_budget or RetryBudget()
        self._limits: Limits = limits or DeploymentLimits()
        self._provider = provider
        self._health = health
        self._breakers = breakers
        self._policy = policy
        self._rng = rng

    async def complete(
        self, plan: RoutePlan, request: ProviderRequest, prompt_tokens: int, deadline: float
    ) -> router_pb2.CompleteResponse:
        walk = _Walk(plan, self._tracer, prompt_tokens + _max_tokens(request))
        calls = _PlainCalls(self._provider, request, self._health.latency_quantile_ms)
        candidate, retry, started, answer = await self._first_success(walk, deadline, calls)
        usage = answer.usage if answer.usage is not None else _estimated_usage(prompt_tokens, len(answer.text))
        self._note_success(walk, candidate, retry, started, usage)
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
        self,
        plan: RoutePlan,
        request: ProviderRequest,
        prompt_tokens: int,
        deadline: float,
        continue_on_interruption: bool = False,
    ) -> AsyncIterator[router_pb2.StreamDelta | router_pb2.StreamSummary]:
        """Deltas, then a summary. Failures before the first content fall back along the chain unseen (and a slow
        first token may be hedged). A failure after it ends the stream with UNAVAILABLE / STREAM_INTERRUPTED or,
        with `continue_on_interruption`, goes on with the next deployment of the chain continuing the answer."""
        walk = _Walk(plan, self._tracer, prompt_tokens + _max_tokens(request))
        opens = _StreamOpens(self._provider, request, prompt_tokens, self._health.ttft_quantile_ms)
        candidate, retry, started, opened = await self._first_success(walk, deadline, opens)
        relayed = _Relayed()
        while True:
            ttft_ms = (opened.first_content_at - started) * 1000
            # A continuation may restate the text already sent; the first deployment's text all goes through.
            repeats = RepeatFilter(relayed.text if walk.continuing else "")
            generated = 0
            finish: str | None = None
            usage: chat_pb2.Usage | None = None
            cut: Failure | None = None
            try:
                async with aclosing(_chunks_until(opened, deadline)) as chunks:
                    async for chunk in chunks:
                        finish = chunk.finish_reason or finish
                        if chunk.usage is not None:
                            usage = chunk.usage
                        generated += _characters(chunk)
                        text = repeats.feed(chunk.text)
                        if text or chunk.tool_calls:
                            relayed.text += text
                            relayed.characters += len(text) + _tool_call_characters(chunk.tool_calls)
                            relayed.tool_calls += len(chunk.tool_calls)
                            yield router_pb2.StreamDelta(
                                text=text,
                                tool_calls=chunk.tool_calls,
                                completion_tokens_so_far=estimate_text_tokens(relayed.characters),
                            )
            except Exception as error:  # noqa: BLE001 - a provider failure is a cut stream, others re-raise
                cut = self._classified(error)
            finally:
                await opened.chunks.aclose()
            if cut is None:
                break
            # The provider billed what it generated before the cut, so the attempt carries that cost.
            partial = _estimated_usage(opens.prompt_tokens, generated)
            walk.record(candidate, retry, started, decision_pb2.ATTEMPT_OUTCOME_STREAM_CUT, cut, partial, ttft_ms)
            if cut.counts_against_deployment:
                self._health.record_failure(candidate.deployment.name)
                self._breakers.record_failure(candidate.deployment.name)
            if not continue_on_interruption or relayed.tool_calls:
                # An answer that already called tools cannot be continued as text.
                raise walk.interrupted(candidate.deployment.name, cut.message) from None
            cut_deployment = candidate.deployment.name
            opens = _StreamOpens(
                self._provider,
                continuation_request(request, relayed.text, estimate_text_tokens(relayed.characters)),
                prompt_tokens + estimate_text_tokens(len(relayed.text) + len(CONTINUE_INSTRUCTION)),
                # The client has its first token: no hedge from here on.
                None,
            )
            candidate, retry, started, opened = await self._continuation(walk, deadline, opens, cut_deployment)
        if usage is None:
            usage = _estimated_usage(opens.prompt_tokens, generated)
        self._note_success(walk, candidate, retry, started, usage, ttft_ms)
        yield router_pb2.StreamSummary(
            finish_reason=finish_reason(finish),
            route=walk.route(candidate),
            attempts=walk.attempts,
            usage=usage,
            cost_micros_usd=walk.cost_micros_usd,
            model=candidate.model,
        )

    async def _continuation(
        self, walk: _Walk, deadline: float, opens: _StreamOpens, cut_deployment: str
    ) -> tuple[Candidate, int, float, _OpenedStream]:
        """Opens the continuation of a cut stream on the deployments of the chain not called yet (the plan's
        hard filters, region pinning included, made the chain); when none answers, the stream is interrupted."""
        if all(candidate.deployment.name in walk.called for candidate in walk.plan.chain):
            raise walk.interrupted(cut_deployment, "no other deployment of the chain is left to continue it")
        walk.continuing = True
        log.info("continuing a cut stream", deployment=cut_deployment)
        try:
            # The walk skips every deployment this request has called already.
            return await self._first_success(walk, deadline, opens)
        except ServiceError as error:
            raise walk.interrupted(cut_deployment, f"no deployment could continue it: {error.message}") from None

    async def _first_success(self, walk: _Walk, deadline: float, calls: _Calls[T]) -> tuple[Candidate, int, float, T]:
        """Walks the plan's chain until a call succeeds: returns who answered, its retry number, when its call
        started and the result. Records every failed attempt; raises when the chain is spent."""
        policy = self._policy
        for candidate in walk.plan.chain:
            name = candidate.deployment.name
            if name in walk.called:
                # Called already in this request (as a hedge): its one call was its turn.
                continue
            if not self._breakers.allow(name):
                walk.record(candidate, 0, time.monotonic(), decision_pb2.ATTEMPT_OUTCOME_CIRCUIT_OPEN, self._open(name))
                continue
            if not await self._admitted(walk, candidate, 0):
                continue
            for retry in range(policy.attempts_per_deployment):
                if deadline - time.monotonic() < policy.min_attempt_seconds:
                    raise walk.out_of_time()
                if retry == 0:
                    self._retry_budget.record_call()
                    walk.called.add(name)
                elif not await self._admitted(walk, candidate, retry):
                    # A retry is a call like any other to the deployment's rpm / tpm: at its limit, fall back. The
                    # budget's token goes back, as no retry was made.
                    self._retry_budget.refund()
                    break
                started = time.monotonic()
                try:
                    hedge_after = self._hedge_wait(walk, candidate, calls.hedge_quantile_ms)
                    if hedge_after is None:
                        return candidate, retry, started, await _within(calls(candidate), candidate, deadline)
                    first = _leg(calls, candidate, retry, deadline)
                    return await self._hedged(walk, first, hedge_after, calls, deadline)
                except Exception as error:  # noqa: BLE001 - classified below; anything unknown is re-raised
                    failure = self._classified(error)
                self._note_failure(walk, candidate, retry, started, failure)
                if failure.rejected:
                    raise walk.rejected(candidate, failure)
                if failure.outcome in REFUSED and not policy.falls_back_after(failure, candidate.model):
                    raise walk.refused(failure.outcome == decision_pb2.ATTEMPT_OUTCOME_CONTENT_POLICY)
                if not failure.retryable or retry + 1 == policy.attempts_per_deployment:
                    break
                pause = self._pause(retry, failure, deadline)
                # A retry goes ahead only while the breaker allows it: the failure before may have opened it.
                if pause is None or not self._breakers.allow(name):
                    break
                # The retry budget is asked last, so that its token is taken only for a retry that will be made.
                if not self._retry_budget.try_retry():
                    log.info("retry budget spent, falling back", deployment=name)
                    break
                await asyncio.sleep(pause)
        if deadline - time.monotonic() < policy.min_attempt_seconds:
            # The chain may have ended only because the time did: the deadline is the truer account.
            raise walk.out_of_time()
        raise walk.exhausted(policy.default_retry_after_seconds)

    async def _admitted(self, walk: _Walk, candidate: Candidate, retry: int) -> bool:
        """Whether the deployment's rpm / tpm admit one more call now (counting it). If not, the skip is recorded as
        a RATE_LIMITED attempt whose Retry-After is the time until the call would fit."""
        wait = await self._limits.admit(candidate.deployment, walk.tokens)
        if wait is None:
            return True
        at_limit = Failure(
            decision_pb2.ATTEMPT_OUTCOME_RATE_LIMITED,
            retry_after_seconds=wait,
            message="skipped: the deployment is at its requests- or tokens-per-minute limit",
        )
        walk.record(candidate, retry, time.monotonic(), at_limit.outcome, at_limit)
        return False

    def _classified(self, error: Exception) -> Failure:
        """The failure an error stands for: the chain's own time limit, a timeout inside the provider's client, or
        what the provider makes of it; an error that is none (a bug) is raised as is."""
        if isinstance(error, _OutOfTime):
            return error.failure
        if isinstance(error, TimeoutError):
            return _TIMED_OUT
        failure = self._provider.classify(error)
        if failure is None:
            raise error
        return failure

    def _note_success(
        self,
        walk: _Walk,
        candidate: Candidate,
        retry: int,
        started: float,
        usage: chat_pb2.Usage,
        ttft_ms: float | None = None,
    ) -> None:
        """Records the call that answered and what it says about the deployment's health."""
        walk.record(
            candidate, retry, started, decision_pb2.ATTEMPT_OUTCOME_SUCCESS, usage=usage, ttft_ms=ttft_ms or 0.0
        )
        self._health.record_success(candidate.deployment.name, walk.attempts[-1].duration_ms, ttft_ms)
        self._breakers.record_success(candidate.deployment.name)

    def _note_failure(self, walk: _Walk, candidate: Candidate, retry: int, started: float, failure: Failure) -> None:
        """Records a failed call and what it says about the deployment's health."""
        name = candidate.deployment.name
        walk.record(candidate, retry, started, failure.outcome, failure)
        log.info(
            "provider call failed",
            deployment=name,
            outcome=decision_pb2.AttemptOutcome.Name(failure.outcome),
            http_status=failure.http_status,
            retry=retry,
        )
        if not failure.counts_against_deployment:
            # The client's deadline ended the call: it says nothing about the deployment.
            return
        if failure.retryable:
            self._health.record_failure(name)
            self._breakers.record_failure(name)
        else:
            # A refusal is an answer: the deployment is up.
            self._breakers.record_success(name)

    def _hedge_wait(self, walk: _Walk, candidate: Candidate, quantile_ms: QuantileOf | None) -> float | None:
        """After how many seconds without an answer this call gets a hedge; None when it gets none (hedging is
        off, the request has hedged already, the deployment has too few samples, or no deployment could be the
        hedge)."""
        policy = self._policy
        if not policy.hedge_quantile or walk.hedged or quantile_ms is None:
            return None
        wait_ms = quantile_ms(candidate.deployment.name, policy.hedge_quantile, policy.hedge_min_samples)
        if wait_ms is None or not any(self._may_hedge_to(walk, other) for other in walk.plan.chain):
            return None
        return wait_ms / 1000

    def _may_hedge_to(self, walk: _Walk, candidate: Candidate) -> bool:
        name = candidate.deployment.name
        return (
            name not in walk.called
            and name not in walk.last_failures
            and self._breakers.state(name) is BreakerState.CLOSED
        )

    async def _hedge_partner(self, walk: _Walk) -> Candidate | None:
        """The deployment to call beside the slow one: the first of the chain that may be hedged to and whose rpm /
        tpm admit the call now (the call is counted). One at its limit is passed over unrecorded: it was not
        called, and its own turn in the walk records its limit."""
        for other in walk.plan.chain:
            if self._may_hedge_to(walk, other) and await self._limits.admit(other.deployment, walk.tokens) is None:
                return other
        return None

    async def _hedged(
        self, walk: _Walk, first: _Leg[T], wait_seconds: float, calls: _Calls[T], deadline: float
    ) -> tuple[Candidate, int, float, T]:
        """Lets the first leg run; if it has not answered after `wait_seconds`, calls a partner too (the request's
        one hedge) and keeps the first answer. Each leg runs under its own deployment's time limit, so a first leg
        that times out leaves its hedge running. The other call is cancelled and recorded as CANCELLED with what
        its provider will bill. A leg that fails while the other runs is recorded; if both fail, the partner's
        failure is recorded here and the first leg's raised to the chain walk, which records it."""
        legs = [first]
        failed: dict[int, Exception] = {}
        winner: _Leg[T] | None = None
        try:
            await asyncio.wait([first.task], timeout=wait_seconds)
            partner = None if first.task.done() else await self._hedge_partner(walk)
            # The first leg may have ended while the partner's limits were asked: then no hedge is needed.
            if partner is not None and not first.task.done():
                legs.append(_leg(calls, partner, 0, deadline))
                walk.hedged = True
                walk.called.add(partner.deployment.name)
                self._retry_budget.record_call()
                log.info("hedging", deployment=first.candidate.deployment.name, hedge=partner.deployment.name)
            while winner is None and len(failed) < len(legs):
                running = [leg.task for index, leg in enumerate(legs) if index not in failed]
                await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                # Failures first: a leg that failed in the same instant as the other answered is no loser.
                for index, leg in enumerate(legs):
                    if index not in failed and leg.task.done() and leg.task.exception() is not None:
                        failed[index] = _as_exception(leg.task.exception())
                        if index:
                            self._note_failure(walk, leg.candidate, 0, leg.started, self._classified(failed[index]))
                winner = next((leg for i, leg in enumerate(legs) if i not in failed and leg.task.done()), None)
            if winner is None:
                raise failed[0]
            if 0 in failed:
                self._note_failure(walk, first.candidate, first.retry, first.started, self._classified(failed[0]))
            return winner.candidate, winner.retry, winner.started, winner.task.result()
        finally:
            losers = [leg for index, leg in enumerate(legs) if leg is not winner and index not in failed]
            for leg in losers:
                answered = leg.task.done()
                leg.task.cancel()
                usage = calls.cancelled_usage(leg.candidate)
                walk.record(leg.candidate, leg.retry, leg.started, decision_pb2.ATTEMPT_OUTCOME_CANCELLED, usage=usage)
                if leg is not first and not answered:
                    # A hedge cancelled before it answered or failed was not its deployment's turn: a continuation
                    # of the stream may still call it.
                    walk.called.discard(leg.candidate.deployment.name)
            # The cancelled calls close their provider responses before the walk goes on; a call that answered
            # in the same instant as the winner is let go.
            for result in await asyncio.gather(*(leg.task for leg in losers), return_exceptions=True):
                if not isinstance(result, BaseException):
                    await calls.discard(result)

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


async def _within(call: Awaitable[T], candidate: Candidate, deadline: float) -> T:
    """Awaits one provider call for at most min(time left before the deadline, the deployment's timeout); when
    that runs out, raises _OutOfTime naming whose limit it was."""
    left = deadline - time.monotonic()
    limit = candidate.deployment.timeout_seconds
    try:
        async with asyncio.timeout(min(left, limit)) as scope:
            return await call
    except TimeoutError:
        if not scope.expired():
            raise
        raise _OutOfTime(_DEADLINE_PASSED if left < limit else _TIMED_OUT) from None


def _leg(calls: _Calls[T], candidate: Candidate, retry: int, deadline: float) -> _Leg[T]:
    """One call of a hedge, started now as its own task under its own deployment's time limit."""
    return _Leg(
        candidate, retry, time.monotonic(), asyncio.ensure_future(_within(calls(candidate), candidate, deadline))
    )


def _as_exception(error: BaseException) -> Exception:
    """A failed leg's error; cancellation and exits are raised on at once."""
    if not isinstance(error, Exception):
        raise error
    return error


async def _chunks_until(opened: _OpenedStream, deadline: float) -> AsyncIterator[ProviderChunk]:
    """A stream's chunks, those read ahead first; the request's deadline bounds the wait for each (the deployment's
    timeout bounds each read inside the provider)."""
    for chunk in opened.read_ahead:
        yield chunk
    while True:
        try:
            async with asyncio.timeout(max(deadline - time.monotonic(), 0.0)) as scope:
                chunk = await anext(opened.chunks, None)
        except TimeoutError:
            if not scope.expired():
                raise
            raise _OutOfTime(_DEADLINE_CUT) from None
        if chunk is None:
            return
        yield chunk


def _tool_call_characters(tool_calls: list[chat_pb2.ToolCall]) -> int:
    return sum(len(call.arguments_json) for call in tool_calls)


def _characters(chunk: ProviderChunk) -> int:
    """The generated characters a chunk carries, for estimating completion tokens."""
    return len(chunk.text) + _tool_call_characters(chunk.tool_calls)


def _max_tokens(request: ProviderRequest) -> int:
    value = request.params.get("max_tokens") or request.params.get("max_completion_tokens") or 0
    return int(value)
