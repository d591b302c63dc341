"""Usage reports while a stream runs, so metering can stop a stream that outgrows its budget."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sluicegate.common.v1 import chat_pb2, decision_pb2, errors_pb2
from sluicegate.convert import estimate_prompt_tokens
from sluicegate.metering.v1 import metering_pb2, metering_pb2_grpc
from sluicegate.runtime.errors import resource_exhausted
from sluicegate_orchestrator.state import RequestState


class StreamMeter:
    """Reports a stream's usage to metering every `usage_report_tokens` tokens, off the stream's path, and ends
    the stream with RESOURCE_EXHAUSTED once metering says the budget no longer covers it."""

    def __init__(
        self,
        metering: metering_pb2_grpc.MeteringServiceStub,
        spawn: Callable[[Awaitable], None],
        state: RequestState,
        report_every_tokens: int,
        timeout_seconds: float,
    ) -> None:
        self._metering = metering
        self._spawn = spawn
        self._state = state
        self._timeout_seconds = timeout_seconds
        self._every = report_every_tokens
        self._next_report = self._every
        self._prompt_tokens = estimate_prompt_tokens(state.messages)
        self._over_budget = False
        self.completion_tokens = 0

    def progress(self, completion_tokens: int) -> None:
        if self._over_budget:
            raise resource_exhausted(
                errors_pb2.ERROR_REASON_BUDGET_EXCEEDED,
                f"reservation:{self._state.decision.budget.reservation_id}",
                "the budget ran out during the stream; the tokens delivered are charged",
            )
        self.completion_tokens = max(self.completion_tokens, completion_tokens)
        if self._every and self.completion_tokens >= self._next_report and self._state.reservation_id:
            self._next_report = self.completion_tokens + self._every
            self._spawn(self._report(self._state.reservation_id, self.partial_attempt()))

    def partial_attempt(self) -> decision_pb2.Attempt:
        """The usage so far, priced at the model's rates (the deployment is known only at the summary)."""
        return decision_pb2.Attempt(
            model=self._state.model,
            usage=chat_pb2.Usage(
                prompt_tokens=self._prompt_tokens,
                completion_tokens=self.completion_tokens,
                total_tokens=self._prompt_tokens + self.completion_tokens,
            ),
        )

    async def _report(self, reservation_id: str, attempt: decision_pb2.Attempt) -> None:
        # The reservation as it was when the tokens were counted: the stream may have ended and settled it since.
        response = await self._metering.ReportUsage(
            metering_pb2.ReportUsageRequest(
                reservation_id=reservation_id,
                charges=[metering_pb2.UsageCharge(model=attempt.model, usage=attempt.usage)],
            ),
            timeout=self._timeout_seconds,
        )
        if not response.within_budget:
            self._over_budget = True
