"""The cache key: a SHA-256 over a canonical, deterministic serialisation of everything that shapes an answer.

Normalisation rules (the only ones; anything else is kept byte for byte, because it may change the answer):
- Message text, document text and tool descriptions: CRLF and lone CR become LF, then leading and trailing
  whitespace is stripped. Whitespace inside the text is kept: indentation, blank lines and double spaces can
  carry meaning (code, Markdown tables, poetry).
- JSON values (json_schema, tool parameter schemas, tool-call arguments) are re-serialised with sorted keys and
  no insignificant whitespace, so key order and formatting do not matter. Arguments that are not valid JSON are
  kept as text (stripped).
- Stop sequences are a set (generation stops at the first one that appears, whatever their order): sorted and
  de-duplicated, never stripped (a stop of "\\n\\n" is not a stop of "").
- Defaults spelled two ways count once: an empty namespace is "default"; RESPONSE_FORMAT_UNSPECIFIED is "text";
  an empty tool_choice with tools is "auto"; an empty JSON schema is no schema.
- Unset optional numbers (temperature, top_p, seed) stay distinct from zero: unset means the provider's default.
- List order is kept for messages, content parts, tools and tool calls: it is the order the model reads them in.

FORMAT_VERSION is part of the hashed form: changing any rule above must bump it, so old entries stop matching
instead of being served for requests they no longer describe.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from google.protobuf import json_format, struct_pb2

from sluicegate.cache.v1 import cache_pb2
from sluicegate.common.v1 import chat_pb2
from sluicegate.convert import ROLE_NAMES

FORMAT_VERSION = 1
DEFAULT_NAMESPACE = "default"

_RESPONSE_FORMATS = {
    chat_pb2.RESPONSE_FORMAT_UNSPECIFIED: "text",
    chat_pb2.RESPONSE_FORMAT_TEXT: "text",
    chat_pb2.RESPONSE_FORMAT_JSON_OBJECT: "json_object",
    chat_pb2.RESPONSE_FORMAT_JSON_SCHEMA: "json_schema",
}


def normalise_text(text: str) -> str:
    """CRLF and CR to LF, then leading and trailing whitespace removed; inner whitespace untouched."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def entry_id_for(key: cache_pb2.CacheKey, namespace: str) -> str:
    """The entry id (64 hex characters) of a request in the given namespace."""
    return hashlib.sha256(canonical_bytes(key, namespace)).hexdigest()


def canonical_bytes(key: cache_pb2.CacheKey, namespace: str) -> bytes:
    """The canonical serialisation that is hashed: compact JSON with sorted keys, UTF-8."""
    return json.dumps(
        canonical_form(key, namespace), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()


def canonical_form(key: cache_pb2.CacheKey, namespace: str) -> dict[str, Any]:
    """The request as plain data with every normalisation applied (see the module docstring)."""
    return {
        "format": FORMAT_VERSION,
        "tenant": key.tenant_id,
        "model": key.model,
        "namespace": namespace or DEFAULT_NAMESPACE,
        "policy_version": key.policy_version,
        "params": canonical_params(key.params),
        "messages": [canonical_message(message) for message in key.messages],
    }


def canonical_params(params: chat_pb2.GenerationParams) -> dict[str, Any]:
    """The generation parameters as plain data, normalised."""
    tool_choice = params.tool_choice.strip()
    if params.tools and not tool_choice:
        tool_choice = "auto"
    return {
        "max_tokens": params.max_tokens,
        "temperature": _number(params.temperature) if params.HasField("temperature") else None,
        "top_p": _number(params.top_p) if params.HasField("top_p") else None,
        "seed": params.seed if params.HasField("seed") else None,
        "stop": sorted(set(params.stop)),
        "response_format": _RESPONSE_FORMATS.get(params.response_format, str(params.response_format)),
        "json_schema": _struct(params.json_schema) if params.HasField("json_schema") else None,
        "tools": [
            {
                "name": tool.name,
                "description": normalise_text(tool.description),
                "parameters": _struct(tool.parameters_json_schema) if tool.HasField("parameters_json_schema") else None,
            }
            for tool in params.tools
        ],
        "tool_choice": tool_choice,
    }


def canonical_message(message: chat_pb2.Message) -> dict[str, Any]:
    """One message as plain data, normalised."""
    return {
        "role": ROLE_NAMES.get(message.role, str(message.role)),
        "name": message.name,
        "content": [_part(part) for part in message.content],
        "tool_calls": [
            {"id": call.id, "name": call.name, "arguments": _json_text(call.arguments_json)}
            for call in message.tool_calls
        ],
        "tool_call_id": message.tool_call_id,
    }


def _part(part: chat_pb2.ContentPart) -> dict[str, Any]:
    kind = part.WhichOneof("part")
    if kind == "text":
        return {"text": normalise_text(part.text)}
    if kind == "image_url":
        return {"image_url": part.image_url.strip()}
    if kind == "document":
        return {"document": {"text": normalise_text(part.document.text), "source": part.document.source}}
    return {}


def _struct(struct: struct_pb2.Struct) -> dict[str, Any] | None:
    """A JSON object as plain data (json.dumps sorts its keys later); an empty object counts as none."""
    return json_format.MessageToDict(struct) or None


def _json_text(text: str) -> dict[str, Any]:
    """Tool-call arguments as parsed JSON when they parse, otherwise as stripped text: both forms are tagged."""
    try:
        return {"json": json.loads(text)}
    except ValueError:
        return {"text": text.strip()}


def _number(value: float) -> float:
    """Adding 0.0 turns -0.0 into 0.0, so the two spellings of zero hash alike."""
    return value + 0.0
