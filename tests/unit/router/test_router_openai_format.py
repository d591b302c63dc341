"""Protos become the OpenAI chat shape litellm sends: roles, parts, documents, tool calls, parameters."""

from __future__ import annotations

from google.protobuf.struct_pb2 import Struct

from sluicegate.common.v1 import chat_pb2
from sluicegate.router.v1 import router_pb2
from sluicegate_router.openai_format import assistant_message, finish_reason, provider_request


def struct(**fields) -> Struct:
    value = Struct()
    value.update(fields)
    return value


def test_messages_keep_roles_text_documents_images_and_tool_calls() -> None:
    call = router_pb2.ModelCall(
        messages=[
            chat_pb2.Message(role=chat_pb2.ROLE_SYSTEM, content=[chat_pb2.ContentPart(text="be brief")]),
            chat_pb2.Message(
                role=chat_pb2.ROLE_USER,
                name="ada",
                content=[
                    chat_pb2.ContentPart(text="what does this say?"),
                    chat_pb2.ContentPart(document=chat_pb2.Document(text="passage", source="a.txt")),
                ],
            ),
            chat_pb2.Message(
                role=chat_pb2.ROLE_USER,
                content=[chat_pb2.ContentPart(text="and this?"), chat_pb2.ContentPart(image_url="https://x/y.png")],
            ),
            chat_pb2.Message(
                role=chat_pb2.ROLE_ASSISTANT,
                tool_calls=[chat_pb2.ToolCall(id="c1", name="lookup", arguments_json='{"q": 1}')],
            ),
            chat_pb2.Message(role=chat_pb2.ROLE_TOOL, tool_call_id="c1", content=[chat_pb2.ContentPart(text="found")]),
        ]
    )

    messages = provider_request(call).messages

    assert messages == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "what does this say?\npassage", "name": "ada"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "and this?"},
                {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": 1}'}}],
        },
        {"role": "tool", "content": "found", "tool_call_id": "c1"},
    ]


def test_only_set_parameters_are_passed() -> None:
    params = chat_pb2.GenerationParams(
        max_tokens=64,
        temperature=0.0,
        stop=["END"],
        seed=7,
        response_format=chat_pb2.RESPONSE_FORMAT_JSON_SCHEMA,
        json_schema=struct(type="object"),
        tools=[chat_pb2.Tool(name="lookup", description="finds", parameters_json_schema=struct(type="object"))],
        tool_choice="lookup",
    )

    converted = provider_request(router_pb2.ModelCall(params=params)).params

    assert converted == {
        "max_tokens": 64,
        "temperature": 0.0,
        "stop": ["END"],
        "seed": 7,
        "response_format": {"type": "json_schema", "json_schema": {"name": "response", "schema": {"type": "object"}}},
        "tools": [
            {
                "type": "function",
                "function": {"name": "lookup", "parameters": {"type": "object"}, "description": "finds"},
            }
        ],
        "tool_choice": {"type": "function", "function": {"name": "lookup"}},
    }
    assert provider_request(router_pb2.ModelCall()).params == {}


def test_answers_map_back_to_protos() -> None:
    assert finish_reason("length") == chat_pb2.FINISH_REASON_LENGTH
    assert finish_reason("tool_calls") == chat_pb2.FINISH_REASON_TOOL_CALLS
    assert finish_reason(None) == chat_pb2.FINISH_REASON_UNSPECIFIED
    message = assistant_message("", [chat_pb2.ToolCall(id="c", name="f")])
    assert message.role == chat_pb2.ROLE_ASSISTANT and not message.content and message.tool_calls[0].name == "f"
