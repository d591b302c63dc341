"""Fakes of every downstream stub, so the pipeline's promises can be checked one failure at a time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import grpc
import pytest

from sluicegate.cache.v1 import cache_pb2
from sluicegate.common.v1 import chat_pb2, decision_pb2
from sluicegate.convert import estimate_prompt_tokens, message_text, text_message, usage_charges
from sluicegate.guard.v1 import guard_pb2
from sluicegate.metering.v1 import metering_pb2
from sluicegate.observer.v1 import observer_pb2
from sluicegate.router.v1 import router_pb2
from sluicegate.runtime.errors import ServiceError
from sluicegate_orchestrator.downstream import Downstreams
from sluicegate_orchestrator.pipeline import ChatPipeline
from sluicegate_orchestrator.recorder import TraceRecorder
from sluicegate_orchestrator.settings import OrchestratorSettings
from sluicegate_router.budget import BudgetGate

EMAIL = "jane@example.com"
PLACEHOLDER = "<EMAIL_ADDRESS_1>"


def rpc_error(code: grpc.StatusCode, details: str = "fake failure") -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details=details)


class FakeStreamCall:
    """Looks like a grpc.aio streaming call: async-iterable and cancellable."""

    def __init__(self, events: AsyncIterator) -> None:
        self._events = events
        self.cancelled = False

    def __aiter__(self):
        return self._events.__aiter__()

    def cancel(self) -> bool:
        self.cancelled = True
        return True


@dataclass
class FakeMetering:
    calls: list[str] = field(default_factory=list)
    settled: list[metering_pb2.SettleRequest] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    authorize_error: grpc.aio.AioRpcError | None = None
    budget_covers_tokens: int | None = None
    authorized: list[metering_pb2.AuthorizeRequest] = field(default_factory=list)
    reports: list[metering_pb2.ReportUsageRequest] = field(default_factory=list)
    # A cheaper model every reservation is downgraded to (as when the budget cannot cover the one asked for).
    downgrade_to: str = ""

    async def Authenticate(self, request, timeout=None):
        self.calls.append("Authenticate")
        if request.api_key != "good-key":
            raise rpc_error(grpc.StatusCode.UNAUTHENTICATED, "unknown key")
        return metering_pb2.AuthenticateResponse(principal=chat_pb2.Principal(tenant_id="acme", key_id="k1"))

    async def Authorize(self, request, timeout=None):
        self.calls.append("Authorize")
        self.authorized.append(request)
        if self.authorize_error is not None:
            raise self.authorize_error
        if self.downgrade_to:
            return metering_pb2.AuthorizeResponse(
                reservation_id="r1", reserved_micros_usd=900, model=self.downgrade_to, downgraded_from=request.model
            )
        return metering_pb2.AuthorizeResponse(reservation_id="r1", reserved_micros_usd=5000, model=request.model)

    async def ReportUsage(self, request, timeout=None):
        self.reports.append(request)
        used = sum(charge.usage.completion_tokens for charge in request.charges)
        within = self.budget_covers_tokens is None or used <= self.budget_covers_tokens
        return metering_pb2.ReportUsageResponse(within_budget=within)

    async def Settle(self, request, timeout=None):
        self.settled.append(request)
        return metering_pb2.SettleResponse(charged_micros_usd=100)

    async def Release(self, request, timeout=None):
        self.released.append(request.reservation_id)
        return metering_pb2.ReleaseResponse(released_micros_usd=5000)


@dataclass
class FakeGuard:
    """Pseudonymises one e-mail address and restores it; blocks prompts containing "ignore previous"."""

    input_error: grpc.aio.AioRpcError | None = None
    output_error: grpc.aio.AioRpcError | None = None
    # How long an input scan takes, and whether one is under way (to see what runs beside it).
    input_seconds: float = 0.0
    scanning: bool = False
    # The text of each message the output stream received.
    streamed_texts: list[str] = field(default_factory=list)
    # An output stream whose text comes to hold this ends as the guard ends a blocked one: a reply with the BLOCK
    # verdict, then an error status (the guard's PERMISSION_DENIED unless a test sets another, such as the INTERNAL
    # grpcio's asyncio client reports at times: grpc/grpc#36066).
    output_block_marker: str = ""
    output_block_status: grpc.aio.AioRpcError | None = None

    async def InspectInput(self, request, timeout=None):
        if self.input_error is not None:
            raise self.input_error
        self.scanning = True
        try:
            await asyncio.sleep(self.input_seconds)
        finally:
            self.scanning = False
        text = " ".join(message_text(m) for m in request.messages)
        if "ignore previous" in text:
            verdict = block_verdict(
                decision_pb2.GUARD_STAGE_INPUT, decision_pb2.FINDING_KIND_INJECTION, "instruction_override", 0.95
            )
            return guard_pb2.InspectInputResponse(verdict=verdict)
        sanitized = [text_message(m.role, message_text(m).replace(EMAIL, PLACEHOLDER)) for m in request.messages]
        action = decision_pb2.GUARD_ACTION_SANITIZE if EMAIL in text else decision_pb2.GUARD_ACTION_ALLOW
        return guard_pb2.InspectInputResponse(
            verdict=decision_pb2.GuardVerdict(stage=decision_pb2.GUARD_STAGE_INPUT, action=action),
            sanitized_messages=sanitized,
            restore_handle="h1" if EMAIL in text else "",
        )

    async def InspectOutput(self, request, timeout=None):
        if self.output_error is not None:
            raise self.output_error
        return guard_pb2.InspectOutputResponse(
            verdict=decision_pb2.GuardVerdict(
                stage=decision_pb2.GUARD_STAGE_OUTPUT, action=decision_pb2.GUARD_ACTION_ALLOW
            ),
            text=request.text.replace(PLACEHOLDER, EMAIL),
        )

    def InspectOutputStream(self, requests, timeout=None):
        async def events():
            if self.output_error is not None:
                raise self.output_error
            buffered = ""
            async for request in requests:
                if request.HasField("text"):
                    self.streamed_texts.append(request.text)
                    buffered += request.text
                    if self.output_block_marker and self.output_block_marker in buffered:
                        yield guard_pb2.InspectOutputStreamResponse(
                            verdict=block_verdict(
                                decision_pb2.GUARD_STAGE_OUTPUT, decision_pb2.FINDING_KIND_PII, "CREDIT_CARD", 1.0
                            )
                        )
                        raise self.output_block_status or rpc_error(grpc.StatusCode.PERMISSION_DENIED, "blocked")
                    # Hold back a possible placeholder start, as the real guard does.
                    cut = buffered.rfind("<")
                    ready, buffered = (
                        (buffered, "") if cut < 0 or ">" in buffered[cut:] else (buffered[:cut], buffered[cut:])
                    )
                    if ready:
                        yield guard_pb2.InspectOutputStreamResponse(text=ready.replace(PLACEHOLDER, EMAIL))
            yield guard_pb2.InspectOutputStreamResponse(
                text=buffered.replace(PLACEHOLDER, EMAIL),
                verdict=decision_pb2.GuardVerdict(
                    stage=decision_pb2.GUARD_STAGE_OUTPUT, action=decision_pb2.GUARD_ACTION_ALLOW
                ),
            )

        return FakeStreamCall(events())


def block_verdict(stage: int, kind: int, category: str, score: float) -> decision_pb2.GuardVerdict:
    finding = decision_pb2.Finding(kind=kind, category=category, score=score, action=decision_pb2.GUARD_ACTION_BLOCK)
    return decision_pb2.GuardVerdict(stage=stage, action=decision_pb2.GUARD_ACTION_BLOCK, findings=[finding])


@dataclass
class FakeCache:
    entries: dict[bytes, cache_pb2.CachedAnswer] = field(default_factory=dict)
    error: grpc.aio.AioRpcError | None = None
    stores: list[cache_pb2.StoreRequest] = field(default_factory=list)
    # Each lookup's first message text, and whether the guard was still scanning when it arrived.
    lookups: list[tuple[str, bool]] = field(default_factory=list)
    guard: FakeGuard | None = None
    lookup_seconds: float = 0.0
    # What a miss hands back as the question's embedding.
    miss_embedding: bytes = b""

    @staticmethod
    def _key(key: cache_pb2.CacheKey) -> bytes:
        return key.SerializeToString(deterministic=True)

    async def Lookup(self, request, timeout=None):
        self.lookups.append((message_text(request.key.messages[0]), bool(self.guard and self.guard.scanning)))
        await asyncio.sleep(self.lookup_seconds)
        if self.error is not None:
            raise self.error
        answer = self.entries.get(self._key(request.key))
        if answer is None:
            return cache_pb2.LookupResponse(
                decision=decision_pb2.CacheDecision(outcome=decision_pb2.CACHE_OUTCOME_MISS),
                # The real cache may skip the embedding of a question nothing can match unless it is wanted.
                question_embedding=self.miss_embedding if request.embedding_wanted else b"",
            )
        return cache_pb2.LookupResponse(
            decision=decision_pb2.CacheDecision(outcome=decision_pb2.CACHE_OUTCOME_HIT_EXACT, similarity=1.0),
            answer=answer,
        )

    async def Store(self, request, timeout=None):
        self.stores.append(request)
        if not request.guard_flagged:
            self.entries[self._key(request.key)] = request.answer
        return cache_pb2.StoreResponse(stored=not request.guard_flagged)


@dataclass
class FakeRouter:
    """Echoes the last user message; `stream_cut_after` breaks a stream after that many chunks. `calls` are the
    calls that reached a provider (after the reservation a request asked for)."""

    calls: list[router_pb2.ModelCall] = field(default_factory=list)
    error: grpc.aio.AioRpcError | None = None
    stream_cut_after: int | None = None
    delay_seconds: float = 0.0
    chunk_delay_seconds: float = 0.0
    seen_messages: list[str] = field(default_factory=list)
    counted_prompt_tokens: int = 0
    routed: list[router_pb2.ModelCall] = field(default_factory=list)
    # The metering a request's `authorize` reserves on, through the real router's BudgetGate.
    metering: FakeMetering | None = None
    # A router from before `authorize` existed: it calls the provider without reserving.
    ignores_authorize: bool = False
    # Called with each answer just before it is returned (a test cancels its request there).
    on_answer: Callable[[], None] | None = None

    def _answer(self, call: router_pb2.ModelCall) -> str:
        text = message_text(call.messages[-1])
        self.seen_messages.append(text)
        return f"you said: {text}"

    @staticmethod
    def _model_of(call: router_pb2.ModelCall) -> str:
        return call.model if call.model not in ("", "auto") else "balanced"

    async def _reserve(self, request) -> metering_pb2.AuthorizeResponse | None:
        """What the router does for a request with `authorize`: reserve the planned model's budget first."""
        if not request.HasField("authorize") or self.ignores_authorize:
            return None
        prompt_tokens = self.counted_prompt_tokens or estimate_prompt_tokens(request.call.messages)
        try:
            return await BudgetGate(self.metering, 5.0).reserve(
                request.authorize, self._model_of(request.call), prompt_tokens
            )
        except ServiceError as exc:
            status = exc.to_status()
            raise grpc.aio.AioRpcError(
                status.code, grpc.aio.Metadata(), grpc.aio.Metadata(*status.trailing_metadata), status.details
            ) from None

    async def Route(self, request, timeout=None):
        self.routed.append(request.call)
        model = self._model_of(request.call)
        reservation = await self._reserve(request)
        return router_pb2.RouteResponse(
            reservation=reservation,
            decision=decision_pb2.RouteDecision(
                model=model, deployment=f"mock-{model}", complexity=chat_pb2.TASK_COMPLEXITY_MEDIUM
            ),
            prompt_tokens=self.counted_prompt_tokens,
        )

    def _attempt(self, model: str) -> decision_pb2.Attempt:
        return decision_pb2.Attempt(
            model=model,
            deployment=f"mock-{model}",
            outcome=decision_pb2.ATTEMPT_OUTCOME_SUCCESS,
            usage=chat_pb2.Usage(prompt_tokens=10, completion_tokens=5),
            cost_micros_usd=42,
        )

    async def Complete(self, request, timeout=None):
        reservation = await self._reserve(request)
        self.calls.append(request.call)
        try:
            if self.delay_seconds:
                await asyncio.sleep(self.delay_seconds)
            if self.error is not None:
                raise self.error
        except BaseException:
            if reservation is not None:  # failed or cancelled after reserving: the router gives it back
                await self.metering.Release(metering_pb2.ReleaseRequest(reservation_id=reservation.reservation_id))
            raise
        model = reservation.model if reservation is not None else self._model_of(request.call)
        attempts = [self._attempt(model)]
        if reservation is not None:  # the router settles what it reserved as it answers
            await self.metering.Settle(
                metering_pb2.SettleRequest(reservation_id=reservation.reservation_id, charges=usage_charges(attempts))
            )
        if self.on_answer is not None:
            self.on_answer()
        return router_pb2.CompleteResponse(
            message=text_message(chat_pb2.ROLE_ASSISTANT, self._answer(request.call)),
            finish_reason=chat_pb2.FINISH_REASON_STOP,
            route=decision_pb2.RouteDecision(model=model, deployment=f"mock-{model}"),
            attempts=attempts,
            usage=chat_pb2.Usage(prompt_tokens=10, completion_tokens=5),
            cost_micros_usd=42,
            model=model,
            reservation=reservation,
            settled=reservation is not None,
        )

    def CompleteStream(self, request, timeout=None):
        async def events():
            reservation = await self._reserve(request)
            self.calls.append(request.call)
            model = reservation.model if reservation is not None else self._model_of(request.call)
            if reservation is not None:
                yield router_pb2.CompleteStreamResponse(reservation=reservation)
            answer = self._answer(request.call)
            pieces = [answer[i : i + 4] for i in range(0, len(answer), 4)]
            for index, piece in enumerate(pieces):
                if self.chunk_delay_seconds:
                    await asyncio.sleep(self.chunk_delay_seconds)
                if self.stream_cut_after is not None and index == self.stream_cut_after:
                    raise rpc_error(grpc.StatusCode.UNAVAILABLE, "stream interrupted")
                yield router_pb2.CompleteStreamResponse(
                    delta=router_pb2.StreamDelta(text=piece, completion_tokens_so_far=index + 1)
                )
            yield router_pb2.CompleteStreamResponse(
                summary=router_pb2.StreamSummary(
                    finish_reason=chat_pb2.FINISH_REASON_STOP,
                    route=decision_pb2.RouteDecision(model=model, deployment=f"mock-{model}"),
                    attempts=[self._attempt(model)],
                    usage=chat_pb2.Usage(prompt_tokens=10, completion_tokens=5),
                    cost_micros_usd=42,
                    model=model,
                )
            )

        return FakeStreamCall(events())


@dataclass
class FakeObserver:
    batches: list[observer_pb2.RecordTracesRequest] = field(default_factory=list)
    down: bool = False

    async def RecordTraces(self, request, timeout=None):
        if self.down:
            raise rpc_error(grpc.StatusCode.UNAVAILABLE, "observer down")
        self.batches.append(request)
        return observer_pb2.RecordTracesResponse(accepted=len(request.traces))


@dataclass
class Fakes:
    metering: FakeMetering
    guard: FakeGuard
    cache: FakeCache
    router: FakeRouter
    observer: FakeObserver
    recorder: TraceRecorder
    make_pipeline: Callable[..., ChatPipeline]

    @property
    def traces(self) -> list[observer_pb2.RequestTrace]:
        return [trace for batch in self.observer.batches for trace in batch.traces]


@pytest.fixture
def fakes() -> Fakes:
    metering, guard, observer = FakeMetering(), FakeGuard(), FakeObserver()
    router = FakeRouter(metering=metering)
    cache = FakeCache(guard=guard)
    downstreams = Downstreams(router=router, guard=guard, cache=cache, metering=metering, observer=observer)
    recorder = TraceRecorder(observer, queue_size=100, batch_size=10, flush_seconds=0.01)

    def make_pipeline(idempotency=None, **settings) -> ChatPipeline:
        return ChatPipeline(downstreams, recorder, idempotency, OrchestratorSettings(**settings))

    return Fakes(metering, guard, cache, router, observer, recorder, make_pipeline)
