"""The mock upstream answers OpenAI chat completions, plain and streamed, echoing the last user message."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from sluicegate_mock_upstream import create_app

SseReader = Callable[[ClientResponse], Awaitable[list[str]]]


def chat_body(model: str, content: Any = "hello there", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


def delta_contents(events: list[str]) -> list[str]:
    """Return the text of every chunk event that carries content."""
    return [
        choice["delta"]["content"]
        for event in events
        if event != "[DONE]"
        for choice in json.loads(event)["choices"]
        if choice["delta"].get("content")
    ]


async def test_plain_completion_echoes_last_user_message_with_usage(upstream: TestClient) -> None:
    body = {
        "model": "mock-fast",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "first answer"},
            {"role": "user", "content": "call <PERSON_1> at <PHONE_NUMBER_1>"},
        ],
    }
    response = await upstream.post("/v1/chat/completions", json=body)

    assert response.status == 200
    completion = await response.json()
    assert completion["object"] == "chat.completion"
    assert completion["model"] == "mock-fast"
    assert completion["id"].startswith("chatcmpl-")
    assert isinstance(completion["created"], int)
    [choice] = completion["choices"]
    assert choice["index"] == 0
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"].startswith(
        "Mock answer from mock-fast: you said: call <PERSON_1> at <PHONE_NUMBER_1>"
    )
    usage = completion["usage"]
    # ceil(len/4) per message: "be brief" 2, "first question" 4, "first answer" 3, the last one 9.
    assert usage["prompt_tokens"] == 2 + 4 + 3 + 9
    assert usage["completion_tokens"] == -(-len(choice["message"]["content"]) // 4)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


async def test_content_given_as_parts_is_echoed(upstream: TestClient) -> None:
    parts = [{"type": "text", "text": "part one"}, {"type": "image_url", "image_url": {"url": "x"}}]
    response = await upstream.post("/v1/chat/completions", json=chat_body("mock-fast", parts))

    completion = await response.json()
    assert "you said: part one" in completion["choices"][0]["message"]["content"]


async def test_route_without_v1_prefix_answers_too(upstream: TestClient) -> None:
    response = await upstream.post("/chat/completions", json=chat_body("mock-fast"))

    assert response.status == 200
    assert "you said: hello there" in (await response.json())["choices"][0]["message"]["content"]


async def test_streamed_completion_sends_role_varied_chunks_finish_usage_and_done(
    upstream: TestClient, read_sse: SseReader
) -> None:
    body = chat_body("mock-fast", "stream me please", stream=True, stream_options={"include_usage": True})
    response = await upstream.post("/v1/chat/completions", json=body)

    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    events = await read_sse(response)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"

    pieces = delta_contents(events)
    assert len(pieces) == 8
    assert len(set(pieces)) == len(pieces), "chunk texts must vary"
    text = "".join(pieces)
    assert text.startswith("Mock answer from mock-fast: you said: stream me please")

    finish_chunk, usage_chunk = chunks[-2], chunks[-1]
    assert finish_chunk["choices"][0]["finish_reason"] == "stop"
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"] == {
        "prompt_tokens": 4,
        "completion_tokens": -(-len(text) // 4),
        "total_tokens": 4 + -(-len(text) // 4),
    }


async def test_stream_without_include_usage_has_no_usage_chunk(upstream: TestClient, read_sse: SseReader) -> None:
    response = await upstream.post("/v1/chat/completions", json=chat_body("mock-fast", stream=True))

    events = await read_sse(response)
    assert events[-1] == "[DONE]"
    assert all("usage" not in json.loads(event) for event in events[:-1])
    assert json.loads(events[-2])["choices"][0]["finish_reason"] == "stop"


async def test_max_tokens_cuts_the_answer_with_finish_reason_length(upstream: TestClient) -> None:
    response = await upstream.post("/v1/chat/completions", json=chat_body("mock-fast", max_tokens=3))

    completion = await response.json()
    assert completion["choices"][0]["finish_reason"] == "length"
    assert completion["choices"][0]["message"]["content"] == "Mock answer "
    assert completion["usage"]["completion_tokens"] == 3


async def test_max_tokens_in_a_stream_ends_with_finish_reason_length(upstream: TestClient, read_sse: SseReader) -> None:
    body = chat_body("mock-fast", stream=True, max_completion_tokens=5)
    response = await upstream.post("/v1/chat/completions", json=body)

    events = await read_sse(response)
    assert "".join(delta_contents(events)) == "Mock answer from moc"
    assert json.loads(events[-2])["choices"][0]["finish_reason"] == "length"


async def test_chunks_and_min_words_shape_the_stream(read_sse: SseReader) -> None:
    app = create_app({"mock-long": {"chunks": 40, "min_words": 200}})
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
        response = await client.post("/v1/chat/completions", json=chat_body("mock-long", stream=True))
        pieces = delta_contents(await read_sse(response))

    assert len(pieces) == 40
    assert len("".join(pieces).split()) == 200
    assert all(left != right for left, right in zip(pieces, pieces[1:], strict=False))


async def test_fixed_answer_overrides_the_echo(read_sse: SseReader) -> None:
    app = create_app({"mock-fixed": {"answer": "forty two"}})
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
        plain = await client.post("/v1/chat/completions", json=chat_body("mock-fixed"))
        streamed = await client.post("/v1/chat/completions", json=chat_body("mock-fixed", stream=True))
        assert (await plain.json())["choices"][0]["message"]["content"] == "forty two"
        assert "".join(delta_contents(await read_sse(streamed))) == "forty two"


async def test_malformed_requests_get_openai_400s(upstream: TestClient) -> None:
    not_json = await upstream.post("/v1/chat/completions", data=b"{nope")
    no_messages = await upstream.post("/v1/chat/completions", json={"model": "mock-fast", "messages": []})
    bad_max_tokens = await upstream.post("/v1/chat/completions", json=chat_body("mock-fast", max_tokens=0))

    for response in (not_json, no_messages, bad_max_tokens):
        assert response.status == 400
        assert (await response.json())["error"]["type"] == "invalid_request_error"
    assert (await no_messages.json())["error"]["param"] == "messages"


async def test_models_lists_builtin_and_configured_models() -> None:
    app = create_app({"*": {"delay_ms": 0}, "mock-configured": {"chunks": 2}})
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
        models = await (await client.get("/v1/models")).json()
        one = await (await client.get("/v1/models/mock-anything")).json()

    assert models["object"] == "list"
    assert [model["id"] for model in models["data"]] == ["mock-configured", "mock-fast"]
    assert one == {"id": "mock-anything", "object": "model", "created": 0, "owned_by": "sluicegate-mock-upstream"}


async def test_healthz_answers_200(upstream: TestClient) -> None:
    response = await upstream.get("/healthz")

    assert response.status == 200
    assert await response.json() == {"status": "ok"}
