"""A ModelCall's checks: enum values the router does not know are named as bad arguments before any lookup."""

from __future__ import annotations

import pytest

from sluicegate.common.v1 import chat_pb2
from sluicegate.convert import text_message
from sluicegate.router.v1 import router_pb2
from sluicegate_router.validation import call_problems

# Proto3 enums are open: any int32 crosses the wire, so a newer or careless client can send a number unknown here.
UNKNOWN = 42


def received(call: router_pb2.ModelCall) -> router_pb2.ModelCall:
    """The call as the router's servicer gets it, after the wire."""
    return router_pb2.CompleteRequest.FromString(router_pb2.CompleteRequest(call=call).SerializeToString()).call


def a_call(**fields) -> router_pb2.ModelCall:
    return router_pb2.ModelCall(model="auto", messages=[text_message(chat_pb2.ROLE_USER, "hi")], **fields)


def with_role(role: int) -> router_pb2.ModelCall:
    call = a_call()
    call.messages.append(text_message(chat_pb2.ROLE_ASSISTANT, "hello"))
    call.messages[1].role = role
    return call


def with_hint(hint: int) -> router_pb2.ModelCall:
    call = a_call()
    call.complexity_hint = hint
    return call


def with_response_format(response_format: int) -> router_pb2.ModelCall:
    call = a_call()
    call.params.response_format = response_format
    return call


@pytest.mark.parametrize(
    ("call", "field", "names"),
    [
        (with_role(UNKNOWN), "call.messages[1].role", "ROLE_USER"),
        (with_hint(UNKNOWN), "call.complexity_hint", "TASK_COMPLEXITY_SIMPLE"),
        (with_hint(-1), "call.complexity_hint", "TASK_COMPLEXITY_SIMPLE"),
        (with_response_format(UNKNOWN), "call.params.response_format", "RESPONSE_FORMAT_JSON_OBJECT"),
    ],
    ids=["role", "complexity_hint", "negative complexity_hint", "response_format"],
)
def test_an_enum_value_the_router_does_not_know_is_named_by_its_field(call, field, names) -> None:
    problems = call_problems(received(call))

    assert list(problems) == [field]
    assert names in problems[field]


def test_every_known_enum_value_and_an_unset_hint_or_format_pass() -> None:
    calls = [
        *(with_role(role) for role in (chat_pb2.ROLE_SYSTEM, chat_pb2.ROLE_ASSISTANT, chat_pb2.ROLE_DEVELOPER)),
        *(with_hint(hint) for hint in chat_pb2.TaskComplexity.values()),
        *(
            with_response_format(f)
            for f in chat_pb2.ResponseFormat.values()
            if f != chat_pb2.RESPONSE_FORMAT_JSON_SCHEMA
        ),
    ]

    assert [call_problems(received(call)) for call in calls] == [{}] * len(calls)
