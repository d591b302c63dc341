"""The lean OpenAI-compatible client: what it sends, how it reads answers and streams, how it classifies failures."""

from __future__ import annotations

import json

import httpx
import pytest

from sluicegate.catalog import Deployment, Price
from sluicegate.common.v1 import decision_pb2
from sluicegate_router.openai_http import (
    OpenAICompatibleProvider,
    UpstreamHTTPError,
    classify_http_failure,
    is_openai_compatible,
)
from sluicegate_router.provider import ProviderRequest

DEPLOYMENT = Deployment(
    name="d",
    litellm_model="openai/gpt-test",
    api_base="http://provider/v1",
    api_key_env="TEST_KEY",
    price=Price(input_per_mtok_usd=1, output_per_mtok_usd=1),
)
REQUEST = ProviderRequest(messages=[{"role": "user", "content": "hi"}], params={"max_tokens": 5})


def provider_answering(handler) -> OpenAICompatibleProvider:
    return OpenAICompatibleProvider(environ={"TEST_KEY": "sk-test"}, transport=httpx.MockTransport(handler))


def sse(*events: dict | str) -> bytes:
    return b"".join(f"data: {event if isinstance(event, str) else json.dumps(event)}\n\n".encode() for event in events)


def delta(**fields) -> dict:
    return {"choices": [{"index": 0, "delta": fields, "finish_reason": None}]}


async def test_a_plain_call_sends_the_openai_body_and_reads_answer_and_usage() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "choices": [{"message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 1}},
            },
        )

    answer = await provider_answering(handler).complete(DEPLOYMENT, REQUEST)

    assert (answer.text, answer.finish_reason) == ("hello", "stop")
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens, answer.usage.cached_prompt_tokens) == (3, 2, 1)
    [request] = seen
    assert str(request.url) == "http://provider/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert json.loads(request.content) == {"model": "gpt-test", "messages": REQUEST.messages, "max_tokens": 5}


async def test_a_stream_joins_tool_call_pieces_and_reads_the_usage_chunk() -> None:
    body = sse(
        delta(role="assistant"),
        delta(content="Let me look."),
        delta(tool_calls=[{"index": 0, "id": "c1", "function": {"name": "lookup", "arguments": '{"q":'}}]),
        delta(tool_calls=[{"index": 0, "function": {"arguments": '"x"}'}}]),
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 4}},
        "[DONE]",
    )
    seen: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    chunks = [chunk async for chunk in await provider_answering(handler).stream(DEPLOYMENT, REQUEST)]

    assert seen[0]["stream"] is True and seen[0]["stream_options"] == {"include_usage": True}
    assert "".join(chunk.text for chunk in chunks) == "Let me look."
    [finish] = [chunk for chunk in chunks if chunk.finish_reason]
    assert finish.finish_reason == "tool_calls"
    assert [(c.id, c.name, c.arguments_json) for c in finish.tool_calls] == [("c1", "lookup", '{"q":"x"}')]
    assert chunks[-1].usage.prompt_tokens == 7 and chunks[-1].usage.completion_tokens == 4


async def test_a_stream_that_stops_without_done_is_a_connection_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=sse(delta(content="half an ans")))

    chunks = await provider_answering(handler).stream(DEPLOYMENT, REQUEST)
    with pytest.raises(Exception) as caught:
        async for _ in chunks:
            pass

    failure = classify_http_failure(caught.value)
    assert failure is not None and failure.outcome == decision_pb2.ATTEMPT_OUTCOME_CONNECTION_ERROR


async def test_an_error_event_inside_a_stream_is_a_provider_failure() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        error = {"error": {"message": "overloaded", "type": "server_error", "code": 503}}
        return httpx.Response(200, content=sse(delta(content="Hi"), error))

    chunks = await provider_answering(handler).stream(DEPLOYMENT, REQUEST)
    with pytest.raises(UpstreamHTTPError) as caught:
        async for _ in chunks:
            pass

    failure = classify_http_failure(caught.value)
    assert (failure.outcome, failure.http_status) == (decision_pb2.ATTEMPT_OUTCOME_SERVER_ERROR, 503)


class _Reads(httpx.AsyncByteStream):
    """A response body that arrives in the given network reads."""

    def __init__(self, *reads: bytes) -> None:
        self._reads = reads

    async def __aiter__(self):
        for read in self._reads:
            yield read


async def test_events_that_arrive_in_one_read_leave_as_one_piece_and_the_first_is_never_held() -> None:
    first = sse(delta(content="Hel"))
    burst = sse(delta(content="lo "), delta(content="there"), delta(content="!"))
    end = sse({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}, "[DONE]")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=_Reads(first, burst, end))

    chunks = [chunk async for chunk in await provider_answering(handler).stream(DEPLOYMENT, REQUEST)]

    assert [(chunk.text, chunk.finish_reason) for chunk in chunks] == [
        ("Hel", None),
        ("lo there!", None),
        ("", "stop"),
    ]


async def test_text_read_together_with_an_error_event_still_reaches_the_client_first() -> None:
    error = {"error": {"message": "overloaded", "type": "server_error", "code": 503}}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=_Reads(sse(delta(content="Hi "), delta(content="there"), error)))

    received: list[str] = []
    with pytest.raises(UpstreamHTTPError):
        async for chunk in await provider_answering(handler).stream(DEPLOYMENT, REQUEST):
            received.append(chunk.text)
    assert received == ["Hi there"]


@pytest.mark.parametrize(
    ("status", "error", "headers", "outcome", "retry_after"),
    [
        (429, {"code": "rate_limit_exceeded"}, {"retry-after": "4"}, decision_pb2.ATTEMPT_OUTCOME_RATE_LIMITED, 4.0),
        (503, {"type": "server_error"}, {"retry-after-ms": "1500"}, decision_pb2.ATTEMPT_OUTCOME_SERVER_ERROR, 1.5),
        (400, {"code": "context_length_exceeded"}, {}, decision_pb2.ATTEMPT_OUTCOME_CONTEXT_WINDOW_EXCEEDED, None),
        # A message naming the context length, with no code, is recognised too.
        (
            400,
            {"message": "This model's maximum context length is 5 tokens."},
            {},
            decision_pb2.ATTEMPT_OUTCOME_CONTEXT_WINDOW_EXCEEDED,
            None,
        ),
        (400, {"code": "content_filter"}, {}, decision_pb2.ATTEMPT_OUTCOME_CONTENT_POLICY, None),
        (400, {"code": None, "message": "bad value"}, {}, decision_pb2.ATTEMPT_OUTCOME_BAD_REQUEST, None),
        (401, {"code": "invalid_api_key"}, {}, decision_pb2.ATTEMPT_OUTCOME_AUTH_ERROR, None),
        (504, {}, {}, decision_pb2.ATTEMPT_OUTCOME_TIMEOUT, None),
    ],
)
async def test_http_errors_become_the_same_attempt_outcomes_as_on_the_litellm_path(
    status, error, headers, outcome, retry_after
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status, json={"error": {"message": "quoting the prompt: secret"} | error}, headers=headers
        )

    with pytest.raises(UpstreamHTTPError) as caught:
        await provider_answering(handler).complete(DEPLOYMENT, REQUEST)

    failure = classify_http_failure(caught.value)
    assert (failure.outcome, failure.http_status, failure.retry_after_seconds) == (outcome, status, retry_after)
    assert "secret" not in failure.message, "provider text stays out of the attempt record"


def test_transport_errors_are_timeouts_or_connection_errors_and_bugs_are_not_classified() -> None:
    assert classify_http_failure(httpx.ReadTimeout("slow")).outcome == decision_pb2.ATTEMPT_OUTCOME_TIMEOUT
    assert classify_http_failure(httpx.ConnectError("refused")).outcome == decision_pb2.ATTEMPT_OUTCOME_CONNECTION_ERROR
    assert classify_http_failure(ValueError("a bug")) is None


def test_only_openai_compatible_deployments_take_the_lean_path() -> None:
    lean = ("openai", "hosted_vllm")
    anthropic = DEPLOYMENT.model_copy(update={"litellm_model": "anthropic/claude"})
    vllm_without_base = DEPLOYMENT.model_copy(update={"litellm_model": "hosted_vllm/m", "api_base": None})
    openai_default = DEPLOYMENT.model_copy(update={"api_base": None})

    assert is_openai_compatible(DEPLOYMENT, lean)
    assert is_openai_compatible(openai_default, lean)
    assert not is_openai_compatible(anthropic, lean)
    assert not is_openai_compatible(vllm_without_base, lean)
    assert not is_openai_compatible(DEPLOYMENT, ())


async def test_an_answer_that_is_not_a_chat_completion_is_a_server_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"<html>proxy error</html>")

    with pytest.raises(UpstreamHTTPError) as caught:
        await provider_answering(handler).complete(DEPLOYMENT, REQUEST)

    failure = classify_http_failure(caught.value)
    assert (failure.outcome, failure.http_status) == (decision_pb2.ATTEMPT_OUTCOME_SERVER_ERROR, 502)
