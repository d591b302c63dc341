"""The cache key: logically identical requests share a key, any change that can alter the answer does not."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from google.protobuf import json_format

from sluicegate.cache.v1 import cache_pb2
from sluicegate_cache.canonical import entry_id_for, normalise_text
from sluicegate_cache.names import resolve_namespace

BASE: dict[str, Any] = {
    "tenantId": "acme",
    "model": "balanced",
    "policyVersion": "p1",
    "params": {
        "maxTokens": 256,
        "temperature": 0.2,
        "topP": 0.9,
        "stop": ["END", "\n\n"],
        "seed": 7,
        "responseFormat": "RESPONSE_FORMAT_JSON_SCHEMA",
        "jsonSchema": {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "number"}}},
        "tools": [
            {
                "name": "lookup",
                "description": "Find a thing",
                "parametersJsonSchema": {"type": "object", "properties": {"q": {"type": "string"}}},
            }
        ],
        "toolChoice": "auto",
    },
    "messages": [
        {"role": "ROLE_SYSTEM", "content": [{"text": "You are terse."}]},
        {
            "role": "ROLE_USER",
            "name": "ann",
            "content": [
                {"text": "What is in this picture?\nAnswer briefly."},
                {"imageUrl": "https://example.test/cat.png"},
                {"document": {"text": "Cats sleep a lot.", "source": "kb/cats"}},
            ],
        },
        {
            "role": "ROLE_ASSISTANT",
            "toolCalls": [{"id": "call_1", "name": "lookup", "argumentsJson": '{"q": "cat", "n": 1}'}],
        },
        {"role": "ROLE_TOOL", "toolCallId": "call_1", "content": [{"text": "a cat"}]},
    ],
}


def build(data: dict[str, Any]) -> cache_pb2.CacheKey:
    return json_format.ParseDict(data, cache_pb2.CacheKey())


def key_id(data: dict[str, Any]) -> str:
    key = build(data)
    return entry_id_for(key, resolve_namespace(key.namespace, ""))


def variant(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    change(data)
    return data


def reversed_keys(value: Any) -> Any:
    """The same JSON value with every object's keys inserted in reverse order."""
    if isinstance(value, dict):
        return {k: reversed_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_keys(v) for v in value]
    return value


def test_entry_id_is_a_stable_sha256():
    # Pinned: if this changes, every stored entry stops matching. Bump FORMAT_VERSION on purpose, then update.
    assert key_id(BASE) == "e14648a651593afd9fc87e11eb569e04b257280a68f12d4c6073602658e2ebd2"


def test_normalise_text_only_touches_line_endings_and_the_ends():
    assert normalise_text("  a\r\nb\rc  \t\n") == "a\nb\nc"
    assert normalise_text("x  y\n\n    z") == "x  y\n\n    z"


INVARIANT: dict[str, Callable[[dict[str, Any]], None]] = {
    "json key order everywhere": lambda d: d.update(reversed_keys(d)),
    "text surrounding whitespace": lambda d: d["messages"][0]["content"][0].update(text="\n  You are terse. \t"),
    "crlf line endings": lambda d: d["messages"][1]["content"][0].update(
        text="What is in this picture?\r\nAnswer briefly.\r\n"
    ),
    "document whitespace": lambda d: d["messages"][1]["content"][2]["document"].update(text=" Cats sleep a lot.\r\n"),
    "tool description whitespace": lambda d: d["params"]["tools"][0].update(description="Find a thing\n"),
    "tool arguments formatting and key order": lambda d: d["messages"][2]["toolCalls"][0].update(
        argumentsJson='{\n  "n": 1,\n  "q": "cat"\n}'
    ),
    "stop order and duplicates": lambda d: d["params"].update(stop=["\n\n", "END", "END"]),
    "explicit default namespace": lambda d: d.update(namespace="default"),
    "image url surrounding whitespace": lambda d: d["messages"][1]["content"][1].update(
        imageUrl=" https://example.test/cat.png "
    ),
}


@pytest.mark.parametrize("change", INVARIANT.values(), ids=INVARIANT.keys())
def test_logically_identical_requests_share_a_key(change):
    assert key_id(variant(change)) == key_id(BASE)


def test_equivalent_defaults_share_a_key():
    def text_format(value: str) -> Callable[[dict[str, Any]], None]:
        def change(d: dict[str, Any]) -> None:
            d["params"].update(responseFormat=value)
            d["params"].pop("jsonSchema")

        return change

    assert key_id(variant(text_format("RESPONSE_FORMAT_UNSPECIFIED"))) == key_id(
        variant(text_format("RESPONSE_FORMAT_TEXT"))
    )
    assert key_id(variant(lambda d: d["params"].pop("toolChoice"))) == key_id(BASE)
    assert key_id(variant(lambda d: d["params"].update(temperature=-0.0))) == key_id(
        variant(lambda d: d["params"].update(temperature=0.0))
    )
    assert key_id(variant(lambda d: d["params"].update(jsonSchema={}))) == key_id(
        variant(lambda d: d["params"].pop("jsonSchema"))
    )
    assert entry_id_for(build(BASE), "") == entry_id_for(build(BASE), "default")


SENSITIVE: dict[str, Callable[[dict[str, Any]], None]] = {
    "tenant": lambda d: d.update(tenantId="globex"),
    "model": lambda d: d.update(model="fast"),
    "namespace": lambda d: d.update(namespace="support"),
    "policy_version": lambda d: d.update(policyVersion="p2"),
    "max_tokens": lambda d: d["params"].update(maxTokens=257),
    "temperature": lambda d: d["params"].update(temperature=0.3),
    "temperature unset": lambda d: d["params"].pop("temperature"),
    "top_p": lambda d: d["params"].update(topP=0.95),
    "top_p unset": lambda d: d["params"].pop("topP"),
    "stop added": lambda d: d["params"]["stop"].append("STOP"),
    "stop whitespace": lambda d: d["params"].update(stop=["END", "\n"]),
    "seed": lambda d: d["params"].update(seed=8),
    "seed unset": lambda d: d["params"].pop("seed"),
    "response_format": lambda d: d["params"].update(responseFormat="RESPONSE_FORMAT_JSON_OBJECT"),
    "json_schema": lambda d: d["params"]["jsonSchema"]["properties"]["a"].update(type="integer"),
    "tool name": lambda d: d["params"]["tools"][0].update(name="search"),
    "tool description": lambda d: d["params"]["tools"][0].update(description="Find two things"),
    "tool schema": lambda d: d["params"]["tools"][0]["parametersJsonSchema"].update(required=["q"]),
    "tool added": lambda d: d["params"]["tools"].append({"name": "other"}),
    "tool_choice": lambda d: d["params"].update(toolChoice="required"),
    "role": lambda d: d["messages"][0].update(role="ROLE_DEVELOPER"),
    "name": lambda d: d["messages"][1].update(name="bob"),
    "text": lambda d: d["messages"][1]["content"][0].update(text="What is in this photo?\nAnswer briefly."),
    "inner whitespace": lambda d: d["messages"][1]["content"][0].update(
        text="What is in this  picture?\nAnswer briefly."
    ),
    "image url": lambda d: d["messages"][1]["content"][1].update(imageUrl="https://example.test/dog.png"),
    "document text": lambda d: d["messages"][1]["content"][2]["document"].update(text="Dogs bark."),
    "document source": lambda d: d["messages"][1]["content"][2]["document"].update(source="kb/dogs"),
    "part order": lambda d: d["messages"][1]["content"].reverse(),
    "tool call arguments": lambda d: d["messages"][2]["toolCalls"][0].update(argumentsJson='{"q": "dog", "n": 1}'),
    "tool call id": lambda d: d["messages"][2]["toolCalls"][0].update(id="call_2"),
    "tool_call_id": lambda d: d["messages"][3].update(toolCallId="call_9"),
    "message order": lambda d: d["messages"].insert(0, d["messages"].pop(1)),
    "message added": lambda d: d["messages"].append({"role": "ROLE_USER", "content": [{"text": "and?"}]}),
}


@pytest.mark.parametrize("change", SENSITIVE.values(), ids=SENSITIVE.keys())
def test_any_change_that_can_alter_the_answer_changes_the_key(change):
    assert key_id(variant(change)) != key_id(BASE)


def test_text_split_into_parts_is_not_the_same_text():
    one = variant(lambda d: d["messages"][0].update(content=[{"text": "You are terse."}]))
    two = variant(lambda d: d["messages"][0].update(content=[{"text": "You are"}, {"text": "terse."}]))
    assert key_id(one) != key_id(two)


def test_invalid_json_arguments_are_kept_as_text():
    broken = variant(lambda d: d["messages"][2]["toolCalls"][0].update(argumentsJson='{"q": "cat"'))
    other = variant(lambda d: d["messages"][2]["toolCalls"][0].update(argumentsJson='{"q": "dog"'))
    assert key_id(broken) != key_id(other)
    assert key_id(broken) == key_id(
        variant(lambda d: d["messages"][2]["toolCalls"][0].update(argumentsJson=' {"q": "cat"\n'))
    )
