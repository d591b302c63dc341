"""Structured JSON logging with the request id bound from a contextvar."""

from __future__ import annotations

import logging
import sys

import structlog

from sluicegate.runtime.context import request_id_var, service_var


def _add_request_id(_: object, __: str, event: dict) -> dict:
    request_id = request_id_var.get()
    if request_id and "request_id" not in event:
        event["request_id"] = request_id
    return event


def _add_serving_service(_: object, __: str, event: dict) -> dict:
    """In a process hosting several services, a line written while serving a call names that call's service
    instead of the process."""
    service = service_var.get()
    if service:
        event["service"] = service
    return event


def configure_logging(service: str, level: str = "INFO") -> None:
    """Sends every log line, ours and libraries', to stderr as one JSON object."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    shared = [
        structlog.contextvars.merge_contextvars,
        _add_serving_service,
        _add_request_id,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(numeric, logging.INFO))


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    """A logger that tags its lines with `component=<name>`.

    It is a lazy proxy: module-level loggers created at import, before `configure_logging` runs, still
    write with the configuration in force when they first log.
    """
    return structlog.get_logger(component=name)
