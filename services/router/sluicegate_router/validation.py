"""Checks of a request's ModelCall before the router sees it; every problem is named by its field."""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

from sluicegate.common.v1 import chat_pb2
from sluicegate.convert import ROLE_NAMES
from sluicegate.router.v1 import router_pb2
from sluicegate.runtime.errors import invalid_argument
from sluicegate_router.planner import TIER_NAMES
from sluicegate_router.policies import POLICIES

_TOOL_CHOICE_WORDS = frozenset({"", "auto", "none", "required"})


def _known(values: Iterable[int], enum: EnumTypeWrapper) -> tuple[frozenset[int], str]:
    """The values of an enum field the router can act on, and their names for an error message. Proto3 enums are
    open: a number the router does not know arrives as is, and would fail where the router looks it up."""
    known = frozenset(values)
    return known, ", ".join(enum.Name(number) for number in sorted(known))


# The roles and tiers the router converts by table (`convert.ROLE_NAMES`, `planner.TIER_NAMES`).
_ROLES, _ROLE_NAMES = _known(ROLE_NAMES, chat_pb2.Role)
_COMPLEXITIES, _COMPLEXITY_NAMES = _known(TIER_NAMES, chat_pb2.TaskComplexity)
_RESPONSE_FORMATS, _RESPONSE_FORMAT_NAMES = _known(
    (number for number in chat_pb2.ResponseFormat.values() if number), chat_pb2.ResponseFormat
)


def call_problems(call: router_pb2.ModelCall) -> dict[str, str]:
    """Field path -> what is wrong with it; empty when the call is valid."""
    problems: dict[str, str] = {}
    if not call.messages:
        problems["call.messages"] = "at least one message is required"
    for index, message in enumerate(call.messages):
        if message.role == chat_pb2.ROLE_UNSPECIFIED:
            problems[f"call.messages[{index}].role"] = "must be set"
        elif message.role not in _ROLES:
            problems[f"call.messages[{index}].role"] = f"must be one of {_ROLE_NAMES}"
        elif message.role == chat_pb2.ROLE_TOOL and not message.tool_call_id:
            problems[f"call.messages[{index}].tool_call_id"] = "a tool message must name the call it answers"
    if call.complexity_hint and call.complexity_hint not in _COMPLEXITIES:
        problems["call.complexity_hint"] = f"must be unset or one of {_COMPLEXITY_NAMES}"
    if call.policy and call.policy not in POLICIES:
        problems["call.policy"] = f"must be empty or one of {', '.join(POLICIES)}"
    params = call.params
    if params.max_tokens < 0:
        problems["call.params.max_tokens"] = "must not be negative"
    if params.HasField("temperature") and not 0.0 <= params.temperature <= 2.0:
        problems["call.params.temperature"] = "must be between 0 and 2"
    if params.HasField("top_p") and not 0.0 <= params.top_p <= 1.0:
        problems["call.params.top_p"] = "must be between 0 and 1"
    if params.response_format and params.response_format not in _RESPONSE_FORMATS:
        problems["call.params.response_format"] = f"must be unset or one of {_RESPONSE_FORMAT_NAMES}"
    elif params.response_format == chat_pb2.RESPONSE_FORMAT_JSON_SCHEMA and not params.json_schema.fields:
        problems["call.params.json_schema"] = "is required for RESPONSE_FORMAT_JSON_SCHEMA"
    tool_names = {tool.name for tool in params.tools}
    if "" in tool_names:
        problems["call.params.tools"] = "every tool needs a name"
    if params.tool_choice not in _TOOL_CHOICE_WORDS and params.tool_choice not in tool_names:
        problems["call.params.tool_choice"] = "must be auto, none, required or the name of one of the tools"
    return problems


def validate_call_request(
    request: router_pb2.RouteRequest | router_pb2.CompleteRequest | router_pb2.CompleteStreamRequest,
) -> None:
    problems = call_problems(request.call)
    if problems:
        raise invalid_argument(problems)
