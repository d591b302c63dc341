"""Server and client interceptors: tracing, request id and one log line per call, errors to statuses, validation.

Server interceptors run in this fixed order (outermost first): TracingInterceptor, AccessLogInterceptor,
ErrorInterceptor, ValidationInterceptor. ErrorInterceptor is the only place an exception becomes a status.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import grpc
from grpc.experimental import wrap_server_method_handler
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

from sluicegate.runtime.context import deadline_var, request_id_var
from sluicegate.runtime.errors import ServiceError, internal_error
from sluicegate.runtime.logs import get_logger
from sluicegate.runtime.tracing import context_from_metadata, current_trace_id, get_tracer, inject_into

REQUEST_ID_KEY = "x-request-id"

Behavior = Callable[..., Any]
Wrapper = Callable[[Behavior, bool, bool], Behavior]

log = get_logger("sluicegate.rpc")


def _wrap(handler: grpc.RpcMethodHandler | None, wrapper: Wrapper) -> grpc.RpcMethodHandler | None:
    """Applies `wrapper(behavior, request_streaming, response_streaming)` to whichever behaviour the handler has."""
    if handler is None:
        return None
    return wrap_server_method_handler(
        lambda behavior: wrapper(behavior, handler.request_streaming, handler.response_streaming), handler
    )


def _metadata_value(metadata: Any, key: str) -> str:
    for item_key, value in metadata or ():
        if item_key == key:
            return value if isinstance(value, str) else value.decode()
    return ""


class TracingInterceptor(grpc.aio.ServerInterceptor):
    """Joins the caller's W3C trace (or starts one) and opens a server span per call."""

    def __init__(self, service: str) -> None:
        self._tracer = get_tracer(f"sluicegate.{service}")

    async def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method
        parent = context_from_metadata(handler_call_details.invocation_metadata)
        if not trace.get_current_span(parent).get_span_context().is_valid:
            parent = trace.set_span_in_context(_new_root_span(), parent)
        tracer = self._tracer
        service_name, _, method_name = method.lstrip("/").partition("/")
        attributes = {"rpc.system": "grpc", "rpc.service": service_name, "rpc.method": method_name}

        def wrapper(behavior: Behavior, request_streaming: bool, response_streaming: bool) -> Behavior:
            if response_streaming:

                async def traced_stream(request_or_iterator, context):
                    token = otel_context.attach(parent)
                    try:
                        with tracer.start_as_current_span(method, kind=SpanKind.SERVER, attributes=attributes):
                            async for response in behavior(request_or_iterator, context):
                                yield response
                    finally:
                        otel_context.detach(token)

                return traced_stream

            async def traced_unary(request_or_iterator, context):
                token = otel_context.attach(parent)
                try:
                    with tracer.start_as_current_span(method, kind=SpanKind.SERVER, attributes=attributes):
                        return await behavior(request_or_iterator, context)
                finally:
                    otel_context.detach(token)

            return traced_unary

        return _wrap(await continuation(handler_call_details), wrapper)


def _new_root_span() -> NonRecordingSpan:
    """A fresh W3C context so requests from untraced clients still carry one trace id across every hop."""
    return NonRecordingSpan(
        SpanContext(
            trace_id=random.getrandbits(128) or 1,
            span_id=random.getrandbits(64) or 1,
            is_remote=False,
            trace_flags=TraceFlags(TraceFlags.DEFAULT),
        )
    )


class AccessLogInterceptor(grpc.aio.ServerInterceptor):
    """Binds the request id (from `x-request-id` or a new one) and the caller's deadline, and writes one JSON
    line per call. Downstream calls made while serving it carry the same id and only the time that is left."""

    def __init__(self, enabled: bool = True) -> None:
        self._enabled = enabled

    async def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method
        request_id = _metadata_value(handler_call_details.invocation_metadata, REQUEST_ID_KEY) or uuid.uuid4().hex
        enabled = self._enabled

        def finish(context: grpc.aio.ServicerContext, started: float, outcome: str | None = None) -> None:
            if not enabled:
                return
            code = outcome or _code_name(context)
            level = log.info if code in ("OK", "CANCELLED") else log.warning
            level(
                "rpc",
                method=method,
                code=code,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                trace_id=current_trace_id(),
            )

        def wrapper(behavior: Behavior, request_streaming: bool, response_streaming: bool) -> Behavior:
            if response_streaming:

                async def logged_stream(request_or_iterator, context):
                    token = request_id_var.set(request_id)
                    _bind_deadline(context)
                    started = time.perf_counter()
                    outcome = None
                    try:
                        async for response in behavior(request_or_iterator, context):
                            yield response
                    except asyncio.CancelledError:
                        outcome = "CANCELLED"
                        raise
                    finally:
                        finish(context, started, outcome)
                        request_id_var.reset(token)

                return logged_stream

            async def logged_unary(request_or_iterator, context):
                token = request_id_var.set(request_id)
                _bind_deadline(context)
                started = time.perf_counter()
                outcome = None
                try:
                    return await behavior(request_or_iterator, context)
                except asyncio.CancelledError:
                    outcome = "CANCELLED"
                    raise
                finally:
                    finish(context, started, outcome)
                    request_id_var.reset(token)

            return logged_unary

        return _wrap(await continuation(handler_call_details), wrapper)


def _bind_deadline(context: grpc.aio.ServicerContext) -> None:
    remaining = context.time_remaining()
    deadline_var.set(time.monotonic() + remaining if remaining is not None else None)


def _code_name(context: grpc.aio.ServicerContext) -> str:
    code = context.code()
    if code is None:
        return "OK"
    if isinstance(code, grpc.StatusCode):
        return code.name
    return grpc.StatusCode(code).name if not isinstance(code, int) else _CODE_BY_NUMBER.get(code, str(code))


_CODE_BY_NUMBER = {code.value[0]: code.name for code in grpc.StatusCode}


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    """The one place exceptions become statuses: ServiceError keeps its code and details, anything else is INTERNAL."""

    async def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method

        async def fail(context: grpc.aio.ServicerContext, exc: Exception) -> None:
            if isinstance(exc, ServiceError):
                error = exc
            else:
                log.error("unhandled exception", method=method, exc_info=exc)
                error = internal_error(request_id_var.get())
            status = error.to_status()
            await context.abort(status.code, status.details, status.trailing_metadata)

        def wrapper(behavior: Behavior, request_streaming: bool, response_streaming: bool) -> Behavior:
            if response_streaming:

                async def guarded_stream(request_or_iterator, context):
                    try:
                        async for response in behavior(request_or_iterator, context):
                            yield response
                    except (asyncio.CancelledError, grpc.aio.AbortError):
                        raise
                    except Exception as exc:  # noqa: BLE001 - converted to a status, never swallowed
                        await fail(context, exc)

                return guarded_stream

            async def guarded_unary(request_or_iterator, context):
                try:
                    return await behavior(request_or_iterator, context)
                except (asyncio.CancelledError, grpc.aio.AbortError):
                    raise
                except Exception as exc:  # noqa: BLE001 - converted to a status, never swallowed
                    await fail(context, exc)

            return guarded_unary

        return _wrap(await continuation(handler_call_details), wrapper)


Validator = Callable[[Any], None]


class ValidationInterceptor(grpc.aio.ServerInterceptor):
    """Runs the registered validator for a unary request's type before the servicer sees it.

    A validator raises ServiceError (usually `invalid_argument`) naming the bad fields.
    """

    def __init__(self, validators: Mapping[type, Validator]) -> None:
        self._validators = dict(validators)

    def add(self, message_type: type, validator: Validator) -> None:
        self._validators[message_type] = validator

    async def intercept_service(self, continuation, handler_call_details):
        validators = self._validators

        def wrapper(behavior: Behavior, request_streaming: bool, response_streaming: bool) -> Behavior:
            if request_streaming:
                return behavior
            if response_streaming:

                async def validated_stream(request, context):
                    validator = validators.get(type(request))
                    if validator is not None:
                        validator(request)
                    async for response in behavior(request, context):
                        yield response

                return validated_stream

            async def validated_unary(request, context):
                validator = validators.get(type(request))
                if validator is not None:
                    validator(request)
                return await behavior(request, context)

            return validated_unary

        return _wrap(await continuation(handler_call_details), wrapper)


def outgoing_metadata(extra: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """Metadata for a downstream call: the request id and the W3C trace context of the current call."""
    metadata: list[tuple[str, str]] = []
    request_id = request_id_var.get()
    if request_id:
        metadata.append((REQUEST_ID_KEY, request_id))
    inject_into(metadata)
    if extra:
        metadata.extend(extra.items())
    return metadata


class _PropagatingClientInterceptor:
    """Adds the request id and trace context to every outgoing call that does not carry them already, and the
    channel's default deadline to a call made without one."""

    def __init__(self, default_timeout_seconds: float) -> None:
        self._default_timeout_seconds = default_timeout_seconds

    def _details(self, client_call_details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = list(client_call_details.metadata or ())
        if not any(key == REQUEST_ID_KEY for key, _ in metadata):
            metadata.extend(outgoing_metadata())
        timeout = client_call_details.timeout
        return grpc.aio.ClientCallDetails(
            client_call_details.method,
            self._default_timeout_seconds if timeout is None else timeout,
            grpc.aio.Metadata(*metadata),
            client_call_details.credentials,
            client_call_details.wait_for_ready,
        )


class PropagatingUnaryUnary(_PropagatingClientInterceptor, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation, client_call_details, request):
        return await continuation(self._details(client_call_details), request)


class PropagatingUnaryStream(_PropagatingClientInterceptor, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation, client_call_details, request):
        return await continuation(self._details(client_call_details), request)


class PropagatingStreamStream(_PropagatingClientInterceptor, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation, client_call_details, request_iterator):
        return await continuation(self._details(client_call_details), request_iterator)


def client_interceptors(default_timeout_seconds: float) -> list[Any]:
    return [
        PropagatingUnaryUnary(default_timeout_seconds),
        PropagatingUnaryStream(default_timeout_seconds),
        PropagatingStreamStream(default_timeout_seconds),
    ]
