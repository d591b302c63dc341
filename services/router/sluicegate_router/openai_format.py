"""Conversions between the chat protos and the OpenAI chat-completions shape litellm speaks."""

from __future__ import annotations

from typing import Any

from google.protobuf.json_format import MessageToDict

from sluicegate.common.v1 import chat_pb2
from sluicegate.convert import ROLE_NAMES, message_text
from sluicegate.router.v1 import router_pb2
from sluicegate_router.provider import ProviderRequest

_TOOL_CHOICE_WORDS = frozenset({"auto", "none", "required"})

_FINISH_REASONS = {
    "stop": chat_pb2.FINISH_REASON_STOP,
    "length": chat_pb2.FINISH_REASON_LENGTH,
    "tool_calls": chat_pb2.FINISH_REASON_TOOL_CALLS,
    "function_call": chat_pb2.FINISH_REASON_TOOL_CALLS,
    "content_filter": chat_pb2.FINISH_REASON_CONTENT_FILTER,
}


def provider_request(call: router_pb2.ModelCall) -> ProviderRequest:
    return ProviderRequest(messages=[openai_message(m) for m in call.messages], params=openai_params(call.params))


def openai_message(message: chat_pb2.Message) -> dict[str, Any]:
    """One message. Text and documents become plain text (every provider takes a string); a message with an
    image becomes a list of text and image_url parts."""
    converted: dict[str, Any] = {"role": ROLE_NAMES[message.role]}
    if any(part.WhichOneof("part") == "image_url" for part in message.content):
        converted["content"] = [_content_part(part) for part in message.content]
    elif message.content or not message.tool_calls:
        converted["content"] = message_text(message)
    else:
        # An assistant turn that only asked for tool calls has no content (OpenAI wants null, not "").
        converted["content"] = None
    if message.name:
        converted["name"] = message.name
    if message.tool_call_id:
        converted["tool_call_id"] = message.tool_call_id
    if message.tool_calls:
        converted["tool_calls"] = [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments_json}}
            for call in message.tool_calls
        ]
    return converted


def _content_part(part: chat_pb2.ContentPart) -> dict[str, Any]:
    kind = part.WhichOneof("part")
    if kind == "image_url":
        return {"type": "image_url", "image_url": {"url": part.image_url}}
    return {"type": "text", "text": part.document.text if kind == "document" else part.text}


def openai_params(params: chat_pb2.GenerationParams) -> dict[str, Any]:
    """Generation parameters; unset ones are left out so the provider's defaults apply."""
    converted: dict[str, Any] = {}
    if params.max_tokens:
        converted["max_tokens"] = params.max_tokens
    if params.HasField("temperature"):
        converted["temperature"] = params.temperature
    if params.HasField("top_p"):
        converted["top_p"] = params.top_p
    if params.stop:
        converted["stop"] = list(params.stop)
    if params.HasField("seed"):
        converted["seed"] = params.seed
    if params.response_format == chat_pb2.RESPONSE_FORMAT_JSON_OBJECT:
        converted["response_format"] = {"type": "json_object"}
    elif params.response_format == chat_pb2.RESPONSE_FORMAT_JSON_SCHEMA:
        converted["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": MessageToDict(params.json_schema)},
        }
    if params.tools:
        converted["tools"] = [_tool(tool) for tool in params.tools]
    if params.tool_choice:
        converted["tool_choice"] = (
            params.tool_choice
            if params.tool_choice in _TOOL_CHOICE_WORDS
            else {"type": "function", "function": {"name": params.tool_choice}}
        )
    return converted


def _tool(tool: chat_pb2.Tool) -> dict[str, Any]:
    parameters = (
        MessageToDict(tool.parameters_json_schema)
        if tool.HasField("parameters_json_schema")
        else {"type": "object", "properties": {}}
    )
    function: dict[str, Any] = {"name": tool.name, "parameters": parameters}
    if tool.description:
        function["description"] = tool.description
    return {"type": "function", "function": function}


def finish_reason(reason: str | None) -> int:
    return _FINISH_REASONS.get(reason or "", chat_pb2.FINISH_REASON_UNSPECIFIED)


def assistant_message(text: str, tool_calls: list[chat_pb2.ToolCall]) -> chat_pb2.Message:
    content = [chat_pb2.ContentPart(text=text)] if text else []
    return chat_pb2.Message(role=chat_pb2.ROLE_ASSISTANT, content=content, tool_calls=tool_calls)


class ToolCallAssembler:
    """Joins the pieces of streamed tool calls (id and name first, arguments in fragments) by their index."""

    def __init__(self) -> None:
        self._calls: dict[int, chat_pb2.ToolCall] = {}

    def add(self, index: int | None, call_id: str | None, name: str | None, arguments: str | None) -> None:
        call = self._calls.setdefault(index or 0, chat_pb2.ToolCall())
        if call_id:
            call.id = call_id
        if name:
            call.name = name
        call.arguments_json += arguments or ""

    def take(self) -> list[chat_pb2.ToolCall]:
        calls = [self._calls[index] for index in sorted(self._calls)]
        self._calls = {}
        return calls
