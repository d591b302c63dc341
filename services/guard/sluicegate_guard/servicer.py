"""GuardService over gRPC: converts protos to the guard's plain values and back, nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sluicegate.common.v1 import chat_pb2, decision_pb2
from sluicegate.convert import message_texts
from sluicegate.guard.v1 import guard_pb2, guard_pb2_grpc
from sluicegate.runtime.errors import invalid_argument
from sluicegate_guard.guard import Guard
from sluicegate_guard.validation import validate_stream_size, validate_stream_start
from sluicegate_guard.verdicts import Action, Finding, Kind, Verdict

# GUARD_MAX_SCAN_CHARS's default.
DEFAULT_MAX_SCAN_CHARS = 200_000

_ACTIONS = {
    Action.ALLOW: decision_pb2.GUARD_ACTION_ALLOW,
    Action.SANITIZE: decision_pb2.GUARD_ACTION_SANITIZE,
    Action.BLOCK: decision_pb2.GUARD_ACTION_BLOCK,
    Action.NOT_SCANNED: decision_pb2.GUARD_ACTION_NOT_SCANNED,
}
_KINDS = {
    Kind.INJECTION: decision_pb2.FINDING_KIND_INJECTION,
    Kind.PII: decision_pb2.FINDING_KIND_PII,
    Kind.SECRET: decision_pb2.FINDING_KIND_SECRET,
    Kind.CANARY_LEAK: decision_pb2.FINDING_KIND_CANARY_LEAK,
}


def _with_texts(message: chat_pb2.Message, texts: list[str]) -> chat_pb2.Message:
    """A copy of the message (roles, names, tool calls, images kept) with its texts replaced in order."""
    sanitized = chat_pb2.Message()
    sanitized.CopyFrom(message)
    replacements = iter(texts)
    for part in sanitized.content:
        kind = part.WhichOneof("part")
        if kind == "text":
            part.text = next(replacements)
        elif kind == "document":
            part.document.text = next(replacements)
    return sanitized


def _finding(finding: Finding) -> decision_pb2.Finding:
    return decision_pb2.Finding(
        kind=_KINDS[finding.kind],
        category=finding.category,
        score=finding.score,
        message_index=finding.message_index,
        start=finding.start,
        end=finding.end,
        action=_ACTIONS[finding.action],
        detector=finding.detector,
    )


def _verdict(verdict: Verdict, stage: int) -> decision_pb2.GuardVerdict:
    return decision_pb2.GuardVerdict(
        stage=stage,
        action=_ACTIONS[verdict.action],
        injection_score=verdict.injection_score,
        findings=[_finding(finding) for finding in verdict.findings],
        duration_ms=verdict.duration_ms,
    )


class GuardServicer(guard_pb2_grpc.GuardServiceServicer):
    def __init__(self, guard: Guard, max_scan_chars: int = DEFAULT_MAX_SCAN_CHARS) -> None:
        self._guard = guard
        self._max_scan_chars = max_scan_chars

    async def InspectInput(self, request: guard_pb2.InspectInputRequest, context) -> guard_pb2.InspectInputResponse:
        inspection = await self._guard.inspect_input(
            request.principal.tenant_id, [message_texts(message) for message in request.messages]
        )
        return guard_pb2.InspectInputResponse(
            verdict=_verdict(inspection.verdict, decision_pb2.GUARD_STAGE_INPUT),
            sanitized_messages=[
                _with_texts(message, texts)
                for message, texts in zip(request.messages, inspection.sanitized, strict=True)
            ]
            if inspection.sanitized
            else [],
            restore_handle=inspection.restore_handle,
        )

    async def InspectOutput(self, request: guard_pb2.InspectOutputRequest, context) -> guard_pb2.InspectOutputResponse:
        inspection = await self._guard.inspect_output(
            request.principal.tenant_id, request.restore_handle, request.text, request.canary
        )
        return guard_pb2.InspectOutputResponse(
            verdict=_verdict(inspection.verdict, decision_pb2.GUARD_STAGE_OUTPUT), text=inspection.text
        )

    async def InspectOutputStream(
        self, request_iterator: AsyncIterator[guard_pb2.InspectOutputStreamRequest], context
    ) -> AsyncIterator[guard_pb2.InspectOutputStreamResponse]:
        start = validate_stream_start(await anext(aiter(request_iterator), None))

        async def chunks() -> AsyncIterator[str]:
            streamed = 0
            async for request in request_iterator:
                if request.WhichOneof("event") != "text":
                    raise invalid_argument({"start": "only the stream's first message may be `start`"})
                streamed += len(request.text)
                validate_stream_size(streamed, self._max_scan_chars)
                yield request.text

        pieces = self._guard.inspect_output_stream(
            start.principal.tenant_id, start.restore_handle, start.canary, chunks()
        )
        async for piece in pieces:
            yield guard_pb2.InspectOutputStreamResponse(
                text=piece.text,
                verdict=_verdict(piece.verdict, decision_pb2.GUARD_STAGE_OUTPUT) if piece.verdict else None,
            )
