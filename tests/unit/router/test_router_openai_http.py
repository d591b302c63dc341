"""The lean OpenAI-compatible client against a real HTTP server: what it sends, how it reads answers and streams,
how it treats its connections, how it classifies failures."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from sluicegate.catalog import Deployment, Price
from sluicegate.common.v1 import decision_pb2
from sluicegate_router import openai_http
from sluicegate_router.openai_http import (
    IncompleteStream,
    OpenAICompatibleProvider,
    UpstreamHTTPError,
    classify_http_failure,
    environment_proxy,
    is_openai_compatible,
)
from sluicegate_router.provider import ProviderRequest

Handler = Callable[["FakeProvider", web.Request], Awaitable[web.StreamResponse]]

DEPLOYMENT = Deployment(
    name="d",
    litellm_model="openai/gpt-test",
    api_base="http://provider/v1",
    api_key_env="TEST_KEY",
    price=Price(input_per_mtok_usd=1, output_per_mtok_usd=1),
)
REQUEST = ProviderRequest(messages=[{"role": "user", "content": "hi"}], params={"max_tokens": 5})
OVERLOADED = {"error": {"message": "overloaded", "type": "server_error", "code": 503}}


class FakeProvider:
    """An OpenAI-compatible server on 127.0.0.1 (port 0) answering with the handler a test sets; it records each
    request and the client port it came from."""

    def __init__(self) -> None:
        self.origin = ""
        self.handler: Handler | None = None
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.client_ports: list[int] = []
        self.disconnected = asyncio.Event()
        # Set by a test to let a handler that writes in several reads write the next one.
        self.next_read = asyncio.Event()

    @property
    def deployment(self) -> Deployment:
        return DEPLOYMENT.model_copy(update={"api_base": f"{self.origin}/v1"})

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((str(request.url), dict(request.headers), await request.read()))
        self.client_ports.append(request.transport.get_extra_info("peername")[1])
        assert self.handler is not None, "the test sets a handler"
        try:
            return await self.handler(self, request)
        except asyncio.CancelledError:
            # aiohttp cancels a handler when its client closes the connection.
            self.disconnected.set()
            raise


@pytest.fixture
async def server() -> AsyncIterator[FakeProvider]:
    fake = FakeProvider()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", fake.handle)
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    fake.origin = f"http://{host}:{port}"
    yield fake
    await runner.cleanup()


@pytest.fixture
async def provider() -> AsyncIterator[OpenAICompatibleProvider]:
    client = OpenAICompatibleProvider(environ={"TEST_KEY": "sk-test"})
    yield client
    await client.aclose()


def sse(*events: dict | str) -> bytes:
    return b"".join(f"data: {event if isinstance(event, str) else json.dumps(event)}\n\n".encode() for event in events)


def delta(**fields) -> dict:
    return {"choices": [{"index": 0, "delta": fields, "finish_reason": None}]}


def answering_json(body: dict, status: int = 200, headers: dict[str, str] | None = None) -> Handler:
    async def handler(fake: FakeProvider, request: web.Request) -> web.StreamResponse:
        return web.json_response(body, status=status, headers=headers)

    return handler


def streaming(*reads: bytes, wait_between_reads: bool = False, then_cut: bool = False) -> Handler:
    """Writes a server-sent event stream in the given network reads; with `wait_between_reads`, each read after the
    first waits until the test sets `next_read`, so no two reads can reach the client together."""

    async def handler(fake: FakeProvider, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for number, read in enumerate(reads):
            if wait_between_reads and number:
                await fake.next_read.wait()
                fake.next_read.clear()
            await response.write(read)
        if then_cut:
            request.transport.close()
            return response
        await response.write_eof()
        return response

    return handler


def stalling_after(*reads: bytes) -> Handler:
    """Answers with these reads (or not at all, if none), then waits until the client goes away."""

    async def handler(fake: FakeProvider, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        if reads:
            await response.prepare(request)
        for read in reads:
            await response.write(read)
        await asyncio.Event().wait()
        return response

    return handler


async def read_stream(provider: OpenAICompatibleProvider, deployment: Deployment) -> list:
    return [chunk async for chunk in await provider.stream(deployment, REQUEST)]


async def test_a_plain_call_sends_the_openai_body_and_reads_answer_and_usage(server, provider) -> None:
    server.handler = answering_json(
        {
            "choices": [{"message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 1}},
        }
    )

    answer = await provider.complete(server.deployment, REQUEST)

    assert (answer.text, answer.finish_reason) == ("hello", "stop")
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens, answer.usage.cached_prompt_tokens) == (3, 2, 1)
    [(url, headers, body)] = server.requests
    assert url == f"{server.origin}/v1/chat/completions"
    assert headers["Authorization"] == "Bearer sk-test"
    assert headers["Content-Type"] == "application/json"
    assert "Cookie" not in headers
    assert json.loads(body) == {"model": "gpt-test", "messages": REQUEST.messages, "max_tokens": 5}


async def test_a_keyless_server_gets_the_placeholder_key_and_cookies_are_never_sent_back(server, provider) -> None:
    async def handler(fake: FakeProvider, request: web.Request) -> web.StreamResponse:
        response = web.json_response({"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]})
        response.set_cookie("session", "from-the-provider")
        return response

    server.handler = handler
    keyless = server.deployment.model_copy(update={"api_key_env": None})

    await provider.complete(keyless, REQUEST)
    await provider.complete(keyless, REQUEST)

    assert [headers["Authorization"] for _, headers, _ in server.requests] == ["Bearer sk-mock"] * 2
    assert "Cookie" not in server.requests[1][1]


async def test_calls_share_one_keep_alive_connection(server, provider) -> None:
    server.handler = answering_json({"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]})

    for _ in range(3):
        await provider.complete(server.deployment, REQUEST)

    assert len(set(server.client_ports)) == 1


async def test_a_stream_joins_tool_call_pieces_and_reads_the_usage_chunk(server, provider) -> None:
    server.handler = streaming(
        sse(
            delta(role="assistant"),
            delta(content="Let me look."),
            delta(tool_calls=[{"index": 0, "id": "c1", "function": {"name": "lookup", "arguments": '{"q":'}}]),
            delta(tool_calls=[{"index": 0, "function": {"arguments": '"x"}'}}]),
            {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
            {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 4}},
            "[DONE]",
        )
    )

    chunks = await read_stream(provider, server.deployment)

    sent = json.loads(server.requests[0][2])
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert "".join(chunk.text for chunk in chunks) == "Let me look."
    [finish] = [chunk for chunk in chunks if chunk.finish_reason]
    assert finish.finish_reason == "tool_calls"
    assert [(c.id, c.name, c.arguments_json) for c in finish.tool_calls] == [("c1", "lookup", '{"q":"x"}')]
    assert chunks[-1].usage.prompt_tokens == 7 and chunks[-1].usage.completion_tokens == 4


@pytest.mark.parametrize("then_cut", [False, True], ids=["body-ends", "connection-drops"])
async def test_a_stream_that_stops_without_done_is_a_connection_error(server, provider, then_cut) -> None:
    server.handler = streaming(sse(delta(content="half an ans")), then_cut=then_cut)

    received: list[str] = []
    with pytest.raises(Exception) as caught:
        async for chunk in await provider.stream(server.deployment, REQUEST):
            received.append(chunk.text)

    assert received == ["half an ans"]
    if not then_cut:
        assert isinstance(caught.value, IncompleteStream)
    failure = classify_http_failure(caught.value)
    assert failure is not None and failure.outcome == decision_pb2.ATTEMPT_OUTCOME_CONNECTION_ERROR


async def test_text_that_arrived_before_a_cut_reaches_the_client_even_when_the_cut_is_seen_first(
    server, provider
) -> None:
    """aiohttp raises a dropped connection as soon as it sees it, ahead of the bytes already received: a router
    reading late (a busy loop) must still pass those on. They are the answer up to the cut, which a continuation
    on the next deployment picks up from."""
    server.handler = streaming(sse(delta(content="every word "), delta(content="counts")), then_cut=True)
    chunks = await provider.stream(server.deployment, REQUEST)
    await asyncio.sleep(0.2)  # the body and the cut both arrive before anything is read

    received: list[str] = []
    with pytest.raises(Exception) as caught:
        async for chunk in chunks:
            received.append(chunk.text)

    assert "".join(received) == "every word counts"
    failure = classify_http_failure(caught.value)
    assert failure is not None and failure.outcome == decision_pb2.ATTEMPT_OUTCOME_CONNECTION_ERROR


async def test_an_error_event_inside_a_stream_is_a_provider_failure(server, provider) -> None:
    server.handler = streaming(sse(delta(content="Hi")), sse(OVERLOADED))

    with pytest.raises(UpstreamHTTPError) as caught:
        await read_stream(provider, server.deployment)

    failure = classify_http_failure(caught.value)
    assert (failure.outcome, failure.http_status) == (decision_pb2.ATTEMPT_OUTCOME_SERVER_ERROR, 503)


async def test_events_that_arrive_in_one_read_leave_as_one_piece_and_the_first_is_never_held(server, provider) -> None:
    first = sse(delta(content="Hel"))
    burst = sse(delta(content="lo "), delta(content="there"), delta(content="!"))
    end = sse({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}, "[DONE]")
    server.handler = streaming(first, burst, end, wait_between_reads=True)

    received = []
    # The server writes the next read only once the client has the previous one: a held chunk would hang here.
    async with asyncio.timeout(5):
        async for chunk in await provider.stream(server.deployment, REQUEST):
            received.append((chunk.text, chunk.finish_reason))
            server.next_read.set()

    assert received == [("Hel", None), ("lo there!", None), ("", "stop")]


async def test_text_read_together_with_an_error_event_still_reaches_the_client_first(server, provider) -> None:
    server.handler = streaming(sse(delta(content="Hi "), delta(content="there"), OVERLOADED))

    received: list[str] = []
    with pytest.raises(UpstreamHTTPError):
        async for chunk in await provider.stream(server.deployment, REQUEST):
            received.append(chunk.text)
    assert received == ["Hi there"]


async def test_closing_a_stream_mid_answer_closes_its_connection_instead_of_pooling_it(server, provider) -> None:
    server.handler = stalling_after(sse(delta(content="Hel")))
    chunks = await provider.stream(server.deployment, REQUEST)
    assert (await anext(chunks)).text == "Hel"

    await chunks.aclose()

    await asyncio.wait_for(server.disconnected.wait(), 5)
    server.handler = answering_json({"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]})
    assert (await provider.complete(server.deployment, REQUEST)).text == "ok"
    first_connection, second_connection = server.client_ports
    assert first_connection != second_connection


async def test_a_finished_stream_leaves_its_connection_for_the_next_call(server, provider) -> None:
    server.handler = streaming(sse(delta(content="Hi"), {"choices": [{"delta": {}, "finish_reason": "stop"}]}))
    await read_stream(provider, server.deployment)
    await read_stream(provider, server.deployment)

    assert len(set(server.client_ports)) == 1


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
        (400, {"message": "blocked by our safety system"}, {}, decision_pb2.ATTEMPT_OUTCOME_CONTENT_POLICY, None),
        (400, {"code": None, "message": "bad value"}, {}, decision_pb2.ATTEMPT_OUTCOME_BAD_REQUEST, None),
        (401, {"code": "invalid_api_key"}, {}, decision_pb2.ATTEMPT_OUTCOME_AUTH_ERROR, None),
        (504, {}, {}, decision_pb2.ATTEMPT_OUTCOME_TIMEOUT, None),
    ],
)
@pytest.mark.parametrize("streamed", [False, True], ids=["complete", "stream"])
async def test_http_errors_become_the_same_attempt_outcomes_as_on_the_litellm_path(
    server, provider, status, error, headers, outcome, retry_after, streamed
) -> None:
    server.handler = answering_json({"error": {"message": "quoting the prompt: secret"} | error}, status, headers)

    with pytest.raises(UpstreamHTTPError) as caught:
        if streamed:
            await provider.stream(server.deployment, REQUEST)
        else:
            await provider.complete(server.deployment, REQUEST)

    failure = classify_http_failure(caught.value)
    assert (failure.outcome, failure.http_status, failure.retry_after_seconds) == (outcome, status, retry_after)
    assert "secret" not in failure.message, "provider text stays out of the attempt record"


@pytest.mark.parametrize("streamed", [False, True], ids=["before-the-answer", "mid-stream"])
async def test_a_provider_that_goes_silent_times_out_after_the_deployment_timeout(server, provider, streamed) -> None:
    server.handler = stalling_after(sse(delta(content="Hel"))) if streamed else stalling_after()
    impatient = server.deployment.model_copy(update={"timeout_seconds": 0.3})

    with pytest.raises(Exception) as caught:
        async with asyncio.timeout(5):
            await read_stream(provider, impatient) if streamed else await provider.complete(impatient, REQUEST)

    failure = classify_http_failure(caught.value)
    assert failure is not None and failure.outcome == decision_pb2.ATTEMPT_OUTCOME_TIMEOUT


async def test_the_deployment_timeout_bounds_each_read_not_a_long_stream(server, provider) -> None:
    events = [sse(delta(content=f"part {number} ")) for number in range(5)] + [sse(delta(), "[DONE]")]

    async def slow_but_steady(fake: FakeProvider, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for event in events:
            await response.write(event)
            await asyncio.sleep(0.15)
        await response.write_eof()
        return response

    server.handler = slow_but_steady
    patient_per_read = server.deployment.model_copy(update={"timeout_seconds": 0.5})

    chunks = await read_stream(provider, patient_per_read)

    assert "".join(chunk.text for chunk in chunks) == "".join(f"part {number} " for number in range(5))


async def test_a_refused_connection_is_a_connection_error(provider) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    nobody = DEPLOYMENT.model_copy(update={"api_base": f"http://127.0.0.1:{closed_port}/v1"})

    with pytest.raises(Exception) as caught:
        await provider.complete(nobody, REQUEST)

    failure = classify_http_failure(caught.value)
    assert failure is not None and failure.outcome == decision_pb2.ATTEMPT_OUTCOME_CONNECTION_ERROR


def test_exceptions_that_are_no_provider_failure_are_not_classified() -> None:
    assert classify_http_failure(ValueError("a bug")) is None


async def test_an_answer_that_is_not_a_chat_completion_is_a_server_error(server, provider) -> None:
    async def proxy_page(fake: FakeProvider, request: web.Request) -> web.StreamResponse:
        return web.Response(text="<html>proxy error</html>", content_type="text/html")

    server.handler = proxy_page

    with pytest.raises(UpstreamHTTPError) as caught:
        await provider.complete(server.deployment, REQUEST)

    failure = classify_http_failure(caught.value)
    assert (failure.outcome, failure.http_status) == (decision_pb2.ATTEMPT_OUTCOME_SERVER_ERROR, 502)


@pytest.mark.parametrize("declared", [True, False])
async def test_an_answer_larger_than_any_answer_could_be_is_a_server_error(
    server, provider, monkeypatch, declared: bool
) -> None:
    monkeypatch.setattr(openai_http, "MAX_ANSWER_BYTES", 1000)
    body = json.dumps({"choices": [{"message": {"content": "x" * 5000}, "finish_reason": "stop"}]}).encode()

    async def huge(fake: FakeProvider, request: web.Request) -> web.StreamResponse:
        if declared:
            return web.Response(body=body, content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "application/json"})  # chunked: no length up front
        await response.prepare(request)
        for start in range(0, len(body), 500):
            await response.write(body[start : start + 500])
        await response.write_eof()
        return response

    server.handler = huge

    with pytest.raises(UpstreamHTTPError) as caught:
        await provider.complete(server.deployment, REQUEST)

    assert (caught.value.status, caught.value.code) == (502, "response_too_large")


async def test_a_stream_event_without_end_is_cut_off_at_the_event_limit(server, provider, monkeypatch) -> None:
    monkeypatch.setattr(openai_http, "MAX_EVENT_BYTES", 1000)
    server.handler = streaming(sse(delta(content="Hi")), b"data: " + b"x" * 600, b"x" * 600)

    with pytest.raises(UpstreamHTTPError) as caught:
        await read_stream(provider, server.deployment)

    assert (caught.value.status, caught.value.code) == (502, "response_too_large")


@pytest.mark.parametrize("event", ["null", "42", '["x"]', '{"choices": ["x"]}', '{"choices": [{"delta": "x"}]}'])
async def test_a_stream_event_that_is_not_a_chat_chunk_is_a_server_error(server, provider, event: str) -> None:
    """Like a plain answer that is not a completion: a broken provider the chain falls back from, not a bug."""
    server.handler = streaming(sse(delta(content="Hi")), sse(event))

    with pytest.raises(UpstreamHTTPError) as caught:
        await read_stream(provider, server.deployment)

    failure = classify_http_failure(caught.value)
    assert (failure.outcome, failure.http_status) == (decision_pb2.ATTEMPT_OUTCOME_SERVER_ERROR, 502)


async def test_a_proxy_named_by_the_environment_carries_the_call(server) -> None:
    server.handler = answering_json({"choices": [{"message": {"content": "via proxy"}, "finish_reason": "stop"}]})
    behind_proxy = OpenAICompatibleProvider(environ={"TEST_KEY": "sk-test", "HTTP_PROXY": server.origin})
    unreachable_without_proxy = DEPLOYMENT.model_copy(update={"api_base": "http://provider.invalid/v1"})
    try:
        answer = await behind_proxy.complete(unreachable_without_proxy, REQUEST)
    finally:
        await behind_proxy.aclose()

    assert answer.text == "via proxy"
    assert server.requests[0][0].startswith("http://provider.invalid")


def test_the_environment_names_the_proxy_for_each_server() -> None:
    environ = {"https_proxy": "http://egress:3128", "ALL_PROXY": "http://any:3128", "NO_PROXY": "localhost,.internal"}

    assert environment_proxy("https://api.openai.com/v1", environ) == "http://egress:3128"
    assert environment_proxy("http://vllm.lab:8000/v1", environ) == "http://any:3128"
    assert environment_proxy("http://vllm.internal:8000/v1", environ) is None
    assert environment_proxy("http://localhost:8000/v1", environ) is None
    assert environment_proxy("https://api.openai.com/v1", {}) is None


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
