"""Request validation: a tenant to bind the vault to, known roles, the scan size limit and the canary's length."""

from __future__ import annotations

from collections.abc import Callable

from sluicegate.common.v1 import chat_pb2, errors_pb2
from sluicegate.guard.v1 import guard_pb2
from sluicegate.runtime.errors import invalid_argument

# The longest canary accepted (the orchestrator's are 16 characters): the stream holds back a suffix that could
# start it, checked on every chunk.
MAX_CANARY_CHARS = 256


def _too_large(field: str, chars: int, limit: int) -> None:
    if chars > limit:
        raise invalid_argument(
            {field: f"{chars} characters exceed the guard's scan limit of {limit}"},
            reason=errors_pb2.ERROR_REASON_SCAN_TOO_LARGE,
        )


def input_validator(max_scan_chars: int) -> Callable[[guard_pb2.InspectInputRequest], None]:
    def validate(request: guard_pb2.InspectInputRequest) -> None:
        violations = {}
        if not request.principal.tenant_id:
            violations["principal.tenant_id"] = "required"
        if not request.messages:
            violations["messages"] = "at least one message is required"
        for index, message in enumerate(request.messages):
            if message.role == chat_pb2.ROLE_UNSPECIFIED:
                violations[f"messages[{index}].role"] = "required"
        if violations:
            raise invalid_argument(violations)
        chars = sum(
            len(part.text) + len(part.document.text) for message in request.messages for part in message.content
        )
        _too_large("messages", chars, max_scan_chars)

    return validate


def _canary_too_long(field: str, canary: str) -> None:
    if len(canary) > MAX_CANARY_CHARS:
        raise invalid_argument({field: f"{len(canary)} characters exceed the canary limit of {MAX_CANARY_CHARS}"})


def output_validator(max_scan_chars: int) -> Callable[[guard_pb2.InspectOutputRequest], None]:
    def validate(request: guard_pb2.InspectOutputRequest) -> None:
        if not request.principal.tenant_id:
            raise invalid_argument({"principal.tenant_id": "required"})
        _canary_too_long("canary", request.canary)
        _too_large("text", len(request.text), max_scan_chars)

    return validate


def validate_stream_start(first: guard_pb2.InspectOutputStreamRequest | None) -> guard_pb2.OutputStreamStart:
    """The stream's opening, which must come first and name the tenant."""
    if first is None or first.WhichOneof("event") != "start":
        raise invalid_argument({"start": "the stream's first message must be `start`"})
    if not first.start.principal.tenant_id:
        raise invalid_argument({"start.principal.tenant_id": "required"})
    _canary_too_long("start.canary", first.start.canary)
    return first.start


def validate_stream_size(chars: int, max_scan_chars: int) -> None:
    """A streamed answer (its text so far, each chunk included) may not outgrow the scan limit."""
    _too_large("text", chars, max_scan_chars)
