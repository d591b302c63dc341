"""Request validators, run by the runtime's CallInterceptor before the servicer: INVALID_ARGUMENT with a
BadRequest naming every bad field at once."""

from __future__ import annotations

import math
from collections.abc import Iterator

from sluicegate.cache.v1 import cache_pb2
from sluicegate.common.v1 import chat_pb2
from sluicegate.runtime.errors import invalid_argument
from sluicegate_cache.names import entry_id_problem, name_problem, namespace_problem


def validate_lookup(request: cache_pb2.LookupRequest) -> None:
    _raise_if_any(_keyed_problems(request.key, request.control))


def validate_store(request: cache_pb2.StoreRequest) -> None:
    _raise_if_any(_keyed_problems(request.key, request.control))


def validate_invalidate(request: cache_pb2.InvalidateRequest) -> None:
    problems = {"tenant_id": name_problem(request.tenant_id)}
    if request.namespace:
        problems["namespace"] = name_problem(request.namespace)
    if request.entry_id:
        problems["entry_id"] = entry_id_problem(request.entry_id)
    _raise_if_any(problems)


def validate_get_stats(request: cache_pb2.GetStatsRequest) -> None:
    _raise_if_any({"tenant_id": name_problem(request.tenant_id)})


def _keyed_problems(key: cache_pb2.CacheKey, control: chat_pb2.CacheControl) -> dict[str, str | None]:
    problems: dict[str, str | None] = {
        "key.tenant_id": name_problem(key.tenant_id),
        "key.namespace": namespace_problem(key.namespace, control.namespace),
        "key.model": None if key.model.strip() else "required",
        "key.messages": None if key.messages else "at least one message is required",
        "control.ttl_seconds": "must not be negative" if control.ttl_seconds < 0 else None,
        "control.min_similarity": None if 0 <= control.min_similarity <= 1 else "must be between 0 and 1",
        "key.params.max_tokens": "must not be negative" if key.params.max_tokens < 0 else None,
    }
    for name in ("temperature", "top_p"):
        if key.params.HasField(name) and not math.isfinite(getattr(key.params, name)):
            problems[f"key.params.{name}"] = "must be a finite number"
    for index, message in enumerate(key.messages):
        if message.role == chat_pb2.ROLE_UNSPECIFIED:
            problems[f"key.messages[{index}].role"] = "required"
    schemas = [("key.params.json_schema", key.params.json_schema)]
    schemas += [
        (f"key.params.tools[{index}].parameters_json_schema", tool.parameters_json_schema)
        for index, tool in enumerate(key.params.tools)
    ]
    for path, schema in schemas:
        for field_path in _non_finite_numbers(schema.fields, path):
            problems[field_path] = "must be a finite number (JSON has no NaN or Infinity)"
    return problems


def _non_finite_numbers(fields, path: str) -> Iterator[str]:
    """The paths of the NaN and infinite numbers in a Struct's fields (a dict) or a ListValue's values: JSON
    cannot hold them, so the request's canonical form could not be written."""
    items = fields.items() if hasattr(fields, "items") else enumerate(fields)
    for name, value in items:
        item_path = f"{path}.{name}" if isinstance(name, str) else f"{path}[{name}]"
        kind = value.WhichOneof("kind")
        if kind == "number_value" and not math.isfinite(value.number_value):
            yield item_path
        elif kind == "struct_value":
            yield from _non_finite_numbers(value.struct_value.fields, item_path)
        elif kind == "list_value":
            yield from _non_finite_numbers(value.list_value.values, item_path)


def _raise_if_any(problems: dict[str, str | None]) -> None:
    violations = {field: problem for field, problem in problems.items() if problem}
    if violations:
        raise invalid_argument(violations)
