"""Errors as canonical gRPC statuses with `google.rpc` details; the one vocabulary every service speaks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message as ProtoMessage
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from sluicegate.common.v1 import decision_pb2, errors_pb2

ERROR_DOMAIN = "sluicegate.dev"
# Trailing metadata on an error that may be sent again as is: nothing irreversible (no provider call, no
# charge) happened. Envoy retries only errors that carry it.
RETRY_SAFE_KEY = "x-sluicegate-retry-safe"
_REASON_PREFIX = "ERROR_REASON_"
# Statuses of a control-plane service (guard, metering) that mean it could not answer, as opposed to an answer
# it gave (a refusal): its callers fail closed on these.
OUTAGE_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.CANCELLED,
    }
)


def reason_name(reason: int) -> str:
    """`ErrorReason.ERROR_REASON_BUDGET_EXCEEDED` -> "BUDGET_EXCEEDED", the string ErrorInfo carries."""
    return errors_pb2.ErrorReason.Name(reason).removeprefix(_REASON_PREFIX)


class ServiceError(Exception):
    """An error meant for the caller: a status code, a message and `google.rpc` details."""

    def __init__(
        self, code: grpc.StatusCode, message: str, details: Iterable[ProtoMessage] = (), retry_safe: bool = False
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = list(details)
        self.retry_safe = retry_safe

    @property
    def reason(self) -> str:
        """The ErrorInfo reason among the details, or ""."""
        for detail in self.details:
            if isinstance(detail, error_details_pb2.ErrorInfo):
                return detail.reason
        return ""

    @property
    def decision(self) -> decision_pb2.DecisionRecord | None:
        """The decision record among the details (the gateway's errors carry one), or None."""
        for detail in self.details:
            if isinstance(detail, decision_pb2.DecisionRecord):
                return detail
        return None

    def to_status(self) -> grpc.Status:
        status = status_pb2.Status(code=self.code.value[0], message=self.message)
        for detail in self.details:
            packed = any_pb2.Any()
            packed.Pack(detail)
            status.details.append(packed)
        converted = rpc_status.to_status(status)
        if not self.retry_safe:
            return converted
        return _Status(converted.code, converted.details, (*converted.trailing_metadata, (RETRY_SAFE_KEY, "true")))

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> ServiceError:
        """Rebuilds the error a downstream service raised, so it can be passed on with its details intact."""
        code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
        message = error.details() if hasattr(error, "details") else str(error)
        details: list[ProtoMessage] = []
        status = rpc_status.from_call(error) if hasattr(error, "trailing_metadata") else None
        for packed in status.details if status else ():
            for detail_type in _DETAIL_TYPES:
                if packed.Is(detail_type.DESCRIPTOR):
                    detail = detail_type()
                    packed.Unpack(detail)
                    details.append(detail)
                    break
        return cls(code, message or "", details)


class _Status(NamedTuple):
    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple


_DETAIL_TYPES = (
    error_details_pb2.ErrorInfo,
    error_details_pb2.BadRequest,
    error_details_pb2.QuotaFailure,
    error_details_pb2.RetryInfo,
    error_details_pb2.PreconditionFailure,
    error_details_pb2.ResourceInfo,
    error_details_pb2.DebugInfo,
    # The gateway's errors carry the request's decision record, as its answers do.
    decision_pb2.DecisionRecord,
)


def error_info(reason: int, metadata: Mapping[str, str] | None = None) -> error_details_pb2.ErrorInfo:
    return error_details_pb2.ErrorInfo(reason=reason_name(reason), domain=ERROR_DOMAIN, metadata=dict(metadata or {}))


def invalid_argument(
    violations: Mapping[str, str], reason: int | None = None, message: str | None = None
) -> ServiceError:
    """INVALID_ARGUMENT with a BadRequest naming each bad field."""
    bad = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=field, description=why)
            for field, why in violations.items()
        ]
    )
    details: list[ProtoMessage] = [bad]
    if reason is not None:
        details.append(error_info(reason))
    text = message or "; ".join(f"{field}: {why}" for field, why in violations.items())
    return ServiceError(grpc.StatusCode.INVALID_ARGUMENT, text, details)


def resource_exhausted(
    reason: int, subject: str, description: str, retry_after_seconds: float | None = None
) -> ServiceError:
    """RESOURCE_EXHAUSTED with a QuotaFailure naming the exhausted bucket (and RetryInfo when waiting helps)."""
    details: list[ProtoMessage] = [
        error_info(reason, {"bucket": subject}),
        error_details_pb2.QuotaFailure(
            violations=[error_details_pb2.QuotaFailure.Violation(subject=subject, description=description)]
        ),
    ]
    if retry_after_seconds is not None:
        details.append(retry_info(retry_after_seconds))
    return ServiceError(grpc.StatusCode.RESOURCE_EXHAUSTED, description, details)


def retry_info(seconds: float) -> error_details_pb2.RetryInfo:
    whole = int(seconds)
    return error_details_pb2.RetryInfo(
        retry_delay=duration_pb2.Duration(seconds=whole, nanos=int((seconds - whole) * 1e9))
    )


def unavailable(reason: int, message: str, retry_after_seconds: float | None = None) -> ServiceError:
    """UNAVAILABLE: the only code clients retry automatically."""
    details: list[ProtoMessage] = [error_info(reason)]
    if retry_after_seconds is not None:
        details.append(retry_info(retry_after_seconds))
    return ServiceError(grpc.StatusCode.UNAVAILABLE, message, details)


def control_plane_error(error: grpc.RpcError, outage_reason: int, service: str) -> ServiceError:
    """A control-plane service's failure as its caller passes it on: an answer (a refusal and its details) as it
    is, an outage as UNAVAILABLE naming the service (fail closed)."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    if code in OUTAGE_CODES:
        return unavailable(
            outage_reason, f"{service} is unavailable ({code.name}); failing closed", retry_after_seconds=1.0
        )
    return ServiceError.from_rpc_error(error)


def denied(code: grpc.StatusCode, reason: int, message: str, metadata: Mapping[str, str] | None = None) -> ServiceError:
    """PERMISSION_DENIED, UNAUTHENTICATED, FAILED_PRECONDITION, NOT_FOUND... with an ErrorInfo reason."""
    return ServiceError(code, message, [error_info(reason, metadata)])


def internal_error(request_id: str) -> ServiceError:
    return ServiceError(
        grpc.StatusCode.INTERNAL,
        f"internal error (request id {request_id})",
        [error_info(errors_pb2.ERROR_REASON_INTERNAL, {"request_id": request_id})],
    )
