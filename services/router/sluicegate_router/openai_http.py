"""The lean provider path: OpenAI-compatible chat completions over one shared, pooled aiohttp session.

litellm's client costs about 9 ms of CPU a call here; most deployments speak OpenAI's chat-completions
protocol, which needs no translation. This module calls them directly (plain and streamed, with server-sent
events) and classifies their HTTP answers into the same attempt outcomes as `litellm_provider.classify_failure`.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from urllib.request import proxy_bypass_environment

import aiohttp

from sluicegate.catalog import Deployment
from sluicegate.common.v1 import chat_pb2, decision_pb2
from sluicegate_router.failures import Failure, outcome_for_status, retry_after_seconds
from sluicegate_router.openai_format import ToolCallAssembler
from sluicegate_router.provider import ProviderAnswer, ProviderChunk, ProviderRequest

# Keyless OpenAI-compatible servers (the mock, a local vLLM) still get a bearer token, as litellm sends.
PLACEHOLDER_API_KEY = "sk-mock"
OPENAI_API_BASE = "https://api.openai.com/v1"

# litellm providers that speak OpenAI chat completions unchanged once an api_base names the server.
DEFAULT_LEAN_PROVIDERS = (
    "openai",
    "custom_openai",
    "hosted_vllm",
    "lm_studio",
    "deepseek",
    "groq",
    "together_ai",
    "fireworks_ai",
    "openrouter",
    "xai",
    "deepinfra",
)

# Phrases providers use in 400 bodies, for servers that do not send OpenAI's error codes.
_CONTEXT_WINDOW_PHRASES = ("context_length_exceeded", "maximum context length", "context window", "too many tokens")
_CONTENT_POLICY_PHRASES = ("content_filter", "content_policy", "content management policy", "safety system")

# The most a provider may send: a whole answer (a larger one could not travel on as a gRPC message either), and one
# stream event. A provider that sends more is broken (or hostile) and is failed, not buffered without end.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
MAX_EVENT_BYTES = 1024 * 1024

_DATA_PREFIX = b"data:"
_DONE = b"[DONE]"


class UpstreamHTTPError(Exception):
    """A provider answered with an HTTP error (or sent an error event inside a stream)."""

    def __init__(self, status: int, code: str, text: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status} {code}".strip())
        self.status = status
        # The error's `code` or `type`: a fixed word from the provider, safe to record (unlike its message).
        self.code = code
        self.text = text
        self.headers = headers


class IncompleteStream(Exception):
    """A stream ended without `[DONE]` or a finish reason: the provider's connection was cut."""


@dataclass(frozen=True, slots=True)
class HTTPPoolLimits:
    """The shared session's connection pool; sized by settings. Any of the `max_connections` may stay open idle
    for `keepalive_expiry_seconds` (aiohttp has no separate cap on idle connections)."""

    max_connections: int = 200
    keepalive_expiry_seconds: float = 30.0


def is_openai_compatible(deployment: Deployment, lean_providers: Iterable[str]) -> bool:
    """Whether the lean path can call this deployment: its provider speaks OpenAI chat completions and the
    server is known (an api_base, or OpenAI's own)."""
    provider = deployment.provider
    return provider in lean_providers and (deployment.api_base is not None or provider == "openai")


class OpenAICompatibleProvider:
    """Calls OpenAI-compatible deployments with one pooled HTTP/1.1 keep-alive session; no retries of its own."""

    def __init__(self, limits: HTTPPoolLimits = HTTPPoolLimits(), environ: Mapping[str, str] = os.environ) -> None:
        self._limits = limits
        self._environ = environ
        # Opened on the first call: an aiohttp session belongs to the running event loop, and the provider may be
        # constructed outside one.
        self._client: aiohttp.ClientSession | None = None
        self._headers: dict[str, dict[str, str]] = {}
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}
        self._proxies: dict[str, str | None] = {}

    async def complete(self, deployment: Deployment, request: ProviderRequest) -> ProviderAnswer:
        async with await self._post(deployment, request, stream=False) as response:
            content = await _read_capped(response)
        if response.status >= 400:
            raise _http_error(response.status, content, response.headers)
        try:
            return _answer(json.loads(content))
        except (ValueError, LookupError, TypeError, AttributeError) as error:
            raise _unreadable() from error

    async def stream(self, deployment: Deployment, request: ProviderRequest) -> AsyncIterator[ProviderChunk]:
        response = await self._post(deployment, request, stream=True)
        if response.status >= 400:
            async with response:
                content = await _read_capped(response)
            raise _http_error(response.status, content, response.headers)
        return _chunks(response)

    def classify(self, error: Exception) -> Failure | None:
        return classify_http_failure(error)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()

    async def _post(self, deployment: Deployment, request: ProviderRequest, stream: bool) -> aiohttp.ClientResponse:
        body: dict[str, Any] = {
            "model": deployment.litellm_model.split("/", 1)[-1],
            "messages": request.messages,
            **request.params,
        }
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        base = (deployment.api_base or OPENAI_API_BASE).rstrip("/")
        return await self._session().post(
            f"{base}/chat/completions",
            data=json.dumps(body, separators=(",", ":")).encode(),
            headers=self._headers_for(deployment),
            timeout=self._timeout(deployment.timeout_seconds),
            proxy=self._proxy(base),
            # A redirect is the provider's answer (an unreadable one), not a hop to a server the catalog never named.
            allow_redirects=False,
        )

    def _session(self) -> aiohttp.ClientSession:
        if self._client is None:
            self._client = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._limits.max_connections, keepalive_timeout=self._limits.keepalive_expiry_seconds
                ),
                # Providers' cookies would be shared by every caller of the gateway: none are kept.
                cookie_jar=aiohttp.DummyCookieJar(),
                # Proxies come from `_proxy`: aiohttp's trust_env would read .netrc and the proxy variables in a
                # worker thread on every call (more than doubling the client's CPU per call).
                trust_env=False,
            )
        return self._client

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        # Bounds the wait for a connection and for each read, never the whole answer: a long stream goes on.
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            timeout = self._timeouts[seconds] = aiohttp.ClientTimeout(connect=seconds, sock_read=seconds)
        return timeout

    def _proxy(self, base: str) -> str | None:
        # The environment is read once per server, not on every call.
        if base not in self._proxies:
            self._proxies[base] = environment_proxy(base, self._environ)
        return self._proxies[base]

    def _headers_for(self, deployment: Deployment) -> dict[str, str]:
        # The key is drawn per call (a deployment may spread calls over several); headers are kept per key.
        api_key = deployment.api_key(self._environ)
        if not api_key:
            api_key = PLACEHOLDER_API_KEY if deployment.api_base else self._environ.get("OPENAI_API_KEY", "")
        headers = self._headers.get(api_key)
        if headers is None:
            headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
            self._headers[api_key] = headers
        return headers


def environment_proxy(url: str, environ: Mapping[str, str]) -> str | None:
    """The proxy the environment names for a URL: `<scheme>_proxy` or `all_proxy` (either case), unless `no_proxy`
    covers its host."""
    proxies = {
        name.lower().removesuffix("_proxy"): value
        for name, value in environ.items()
        if value and name.lower().endswith("_proxy")
    }
    parts = urlsplit(url)
    if parts.hostname and proxy_bypass_environment(parts.hostname, proxies):
        return None
    return proxies.get(parts.scheme) or proxies.get("all")


async def _chunks(response: aiohttp.ClientResponse) -> AsyncIterator[ProviderChunk]:
    """The stream's pieces, parsed from its server-sent events; closing this generator (or cancelling it)
    ends the HTTP response.

    Events that arrived in one network read leave as one piece: the first token is never held back, and a
    provider (or a busy router) that delivers a burst of tokens costs one message per burst, not per token, on
    every hop to the client.
    """
    tool_calls = ToolCallAssembler()
    finished = False
    try:
        async with aclosing(_event_batches(response)) as batches:
            async for payloads in batches:
                burst: list[ProviderChunk] = []
                done = False
                try:
                    for payload in payloads:
                        if payload == _DONE:
                            done = True
                            break
                        try:
                            chunk = _chunk(json.loads(payload), tool_calls)
                        except (ValueError, LookupError, TypeError, AttributeError) as error:
                            raise _unreadable() from error
                        if chunk is not None:
                            finished = finished or chunk.finish_reason is not None
                            burst.append(chunk)
                except UpstreamHTTPError:
                    # What arrived before the error in the same read still reaches the client first.
                    if burst:
                        yield _joined(burst)
                    raise
                if burst:
                    yield _joined(burst)
                if done:
                    finished = True
                    break
        leftover = tool_calls.take()
        if leftover:
            yield ProviderChunk(tool_calls=leftover)
        if not finished:
            raise IncompleteStream("the stream ended before [DONE] and without a finish reason")
    finally:
        if response.content.at_eof():
            response.release()
        else:
            # Left mid-body (cut, cancelled, or [DONE] before the body's end): the connection is closed, not pooled.
            response.close()


def _joined(chunks: list[ProviderChunk]) -> ProviderChunk:
    if len(chunks) == 1:
        return chunks[0]
    return ProviderChunk(
        text="".join(chunk.text for chunk in chunks),
        tool_calls=[call for chunk in chunks for call in chunk.tool_calls],
        finish_reason=next((c.finish_reason for c in reversed(chunks) if c.finish_reason is not None), None),
        usage=next((chunk.usage for chunk in reversed(chunks) if chunk.usage is not None), None),
    )


async def _event_batches(response: aiohttp.ClientResponse) -> AsyncIterator[list[bytes]]:
    """The `data:` payloads of a server-sent event stream (comments and other fields are skipped), in one list
    per network read (or per reads that arrived while the previous batch was being handled)."""
    pending = b""
    async for data in _body_reads(response.content):
        lines = (pending + data).split(b"\n")
        pending = lines.pop()
        if len(pending) > MAX_EVENT_BYTES:
            raise _too_large()
        payloads = [line[len(_DATA_PREFIX) :].strip() for line in lines if line.startswith(_DATA_PREFIX)]
        if payloads:
            yield payloads
    if pending.startswith(_DATA_PREFIX):
        yield [pending[len(_DATA_PREFIX) :].strip()]


async def _body_reads(content: aiohttp.StreamReader) -> AsyncIterator[bytes]:
    """The body as it arrives. A connection dropped mid-body makes aiohttp raise as soon as it sees the drop,
    ahead of the bytes it had already received: those are the provider's answer up to the cut (the client's, and
    what a continuation picks up from), so they come first, then the error. A busy router, reading late, lost
    them before."""
    try:
        async for data in content.iter_any():
            yield data
    except aiohttp.ClientPayloadError:
        # aiohttp has no public read past a stored error; its buffer is what the socket delivered before the drop.
        received = content._read_nowait(-1)  # noqa: SLF001
        if received:
            yield received
        raise


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    """The whole body, unless it is longer than MAX_ANSWER_BYTES (said up front, or found while reading)."""
    if (response.content_length or 0) > MAX_ANSWER_BYTES:
        raise _too_large()
    body = bytearray()
    async for data in response.content.iter_any():
        body += data
        if len(body) > MAX_ANSWER_BYTES:
            raise _too_large()
    return bytes(body)


def _too_large() -> UpstreamHTTPError:
    """A provider sending more than any answer could be: broken, as with a 502 from a proxy."""
    return UpstreamHTTPError(502, "response_too_large", "")


def _answer(body: dict[str, Any]) -> ProviderAnswer:
    error = body.get("error")
    if error:
        raise _error_event(error)
    choice = body["choices"][0]
    message = choice.get("message") or {}
    return ProviderAnswer(
        text=message.get("content") or "",
        tool_calls=[
            chat_pb2.ToolCall(
                id=call.get("id") or "",
                name=call["function"].get("name") or "",
                arguments_json=call["function"].get("arguments") or "",
            )
            for call in message.get("tool_calls") or ()
        ],
        finish_reason=choice.get("finish_reason"),
        usage=usage_of(body.get("usage")),
    )


def _unreadable() -> UpstreamHTTPError:
    """A 200 whose body is not a chat completion: the provider is broken, as with a 502 from a proxy."""
    return UpstreamHTTPError(502, "unreadable_response", "")


def _chunk(event: dict[str, Any], tool_calls: ToolCallAssembler) -> ProviderChunk | None:
    error = event.get("error")
    if error:
        raise _error_event(error)
    usage = usage_of(event.get("usage"))
    choices = event.get("choices")
    text = ""
    finish = None
    if choices:
        choice = choices[0]
        delta = choice.get("delta") or {}
        text = delta.get("content") or ""
        for piece in delta.get("tool_calls") or ():
            function = piece.get("function") or {}
            tool_calls.add(piece.get("index", 0), piece.get("id"), function.get("name"), function.get("arguments"))
        finish = choice.get("finish_reason")
    completed = tool_calls.take() if finish else []
    if text or completed or finish or usage:
        return ProviderChunk(text=text, tool_calls=completed, finish_reason=finish, usage=usage)
    return None


def usage_of(usage: dict[str, Any] | None) -> chat_pb2.Usage | None:
    if not usage:
        return None
    prompt = usage.get("prompt_tokens") or 0
    completion = usage.get("completion_tokens") or 0
    return chat_pb2.Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached_prompt_tokens=(usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0,
        reasoning_tokens=(usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0,
        total_tokens=prompt + completion,
    )


def _http_error(status: int, content: bytes, headers: Mapping[str, str]) -> UpstreamHTTPError:
    code, text = "", ""
    try:
        error = json.loads(content).get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict):
        code = str(error.get("code") or error.get("type") or "")
        text = str(error.get("message") or "")
    elif isinstance(error, str):
        text = error
    return UpstreamHTTPError(status, code, text, headers)


def _error_event(error: Any) -> UpstreamHTTPError:
    """An error object inside a 200 answer or a stream; its `code` may be an HTTP status."""
    if not isinstance(error, dict):
        return UpstreamHTTPError(500, "", str(error))
    code = error.get("code")
    status = code if isinstance(code, int) and 400 <= code <= 599 else 500
    word = "" if isinstance(code, int) else str(code or error.get("type") or "")
    return UpstreamHTTPError(status, word, str(error.get("message") or ""))


def classify_http_failure(error: BaseException) -> Failure | None:
    """The lean path's one place where an exception becomes an attempt outcome, matching the litellm path's."""
    if isinstance(error, UpstreamHTTPError):
        status = error.status
        described = f"{error.code} {error.text}".lower()
        if status in (400, 413) and any(phrase in described for phrase in _CONTEXT_WINDOW_PHRASES):
            outcome = decision_pb2.ATTEMPT_OUTCOME_CONTEXT_WINDOW_EXCEEDED
        elif status == 400 and any(phrase in described for phrase in _CONTENT_POLICY_PHRASES):
            outcome = decision_pb2.ATTEMPT_OUTCOME_CONTENT_POLICY
        else:
            outcome = outcome_for_status(status)
        code = f" {error.code}" if error.code else ""
        return Failure(
            outcome=outcome,
            http_status=status,
            retry_after_seconds=retry_after_seconds(error.headers),
            # The status and the provider's error code only: its message can quote the prompt.
            message=f"UpstreamHTTPError (HTTP {status}){code}",
        )
    # aiohttp's connect and read timeouts are TimeoutErrors (and connection errors too): checked first.
    if isinstance(error, TimeoutError):
        return Failure(decision_pb2.ATTEMPT_OUTCOME_TIMEOUT, message=type(error).__name__)
    # A ClientResponseError here is an answer that is not HTTP at all, or a proxy's refusal.
    if isinstance(
        error,
        aiohttp.ClientConnectionError
        | aiohttp.ClientPayloadError
        | aiohttp.ClientResponseError
        | IncompleteStream
        | ConnectionError,
    ):
        return Failure(decision_pb2.ATTEMPT_OUTCOME_CONNECTION_ERROR, message=type(error).__name__)
    return None
