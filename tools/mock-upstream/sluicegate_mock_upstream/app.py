"""The mock upstream's HTTP application: OpenAI chat completions and models, plus the ``/_mock`` admin API."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import math
import random
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from . import errors
from .answers import compose_answer, estimate_tokens, prompt_tokens, split_into_chunks, truncate_to_tokens
from .behaviour import Behaviour, BehaviourRegistry
from .stats import ModelStats, UpstreamStats

# Models /v1/models always lists, beside every model that has a configured behaviour.
BUILTIN_MODELS = ("mock-fast",)

# How often a delayed or hanging request looks whether its client has left. It only matters when the
# server runs without aiohttp's handler cancellation, which otherwise interrupts the sleep itself.
_DISCONNECT_POLL_SECONDS = 0.02

# Compact separators: smaller bodies, and the same cost as the default.
_compact_json = json.JSONEncoder(separators=(",", ":")).encode

_SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_SSE_DONE = b"data: [DONE]\n\n"
_JSON_CONTENT_TYPE = "application/json"

# Status used for an answer nobody will read because the client left (nginx's "client closed request").
_CLIENT_CLOSED_STATUS = 499


class _InvalidChatRequest(Exception):
    """A chat completion request the mock cannot read; carries OpenAI's message and offending param."""

    def __init__(self, message: str, param: str | None) -> None:
        super().__init__(message)
        self.param = param


@dataclasses.dataclass(frozen=True, slots=True)
class ChatRequest:
    """The parts of an OpenAI chat completion request the mock acts on."""

    model: str
    messages: list[dict[str, Any]]
    stream: bool
    include_usage: bool
    max_tokens: int | None


def parse_chat_request(body: Any) -> ChatRequest:
    """Check and extract a chat completion request, raising _InvalidChatRequest as OpenAI would refuse it."""
    if not isinstance(body, dict):
        raise _InvalidChatRequest("The request body must be a JSON object.", None)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _InvalidChatRequest("you must provide a model parameter", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise _InvalidChatRequest("'messages' must be a non-empty array of message objects.", "messages")
    stream = body.get("stream") or False
    if not isinstance(stream, bool):
        raise _InvalidChatRequest("'stream' must be a boolean.", "stream")
    stream_options = body.get("stream_options") or {}
    if not isinstance(stream_options, dict):
        raise _InvalidChatRequest("'stream_options' must be an object.", "stream_options")
    # Newer clients send max_completion_tokens; either one caps the answer.
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1):
        raise _InvalidChatRequest("'max_tokens' must be an integer of at least 1.", "max_tokens")
    return ChatRequest(
        model=model,
        messages=messages,
        stream=stream,
        include_usage=bool(stream_options.get("include_usage")),
        max_tokens=max_tokens,
    )


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def _sleep_while_client_waits(request: web.Request, seconds: float) -> bool:
    """Sleep for seconds (math.inf: until the client leaves); return False if the client left first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not _client_gone(request):
        remaining = deadline - loop.time()
        if remaining <= 0:
            return True
        await asyncio.sleep(min(remaining, _DISCONNECT_POLL_SECONDS))
    return False


class MockUpstream:
    """Request handlers of the mock; owns nothing global, so several apps can run in one process."""

    def __init__(
        self,
        registry: BehaviourRegistry,
        stats: UpstreamStats,
        *,
        required_api_key: str | None,
        rng: random.Random,
    ) -> None:
        self._registry = registry
        self._stats = stats
        self._expected_authorization = None if required_api_key is None else f"Bearer {required_api_key}"
        self._rng = rng
        self._completion_ids = itertools.count(1)

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        """Answer ``POST /v1/chat/completions`` as the model's behaviour dictates, counting the outcome."""
        if (
            self._expected_authorization is not None
            and request.headers.get("Authorization") != self._expected_authorization
        ):
            return errors.invalid_api_key()
        try:
            chat = parse_chat_request(json.loads(await request.read()))
        except ValueError:
            return errors.invalid_request("We could not parse the JSON body of your request.")
        except _InvalidChatRequest as invalid:
            return errors.invalid_request(str(invalid), param=invalid.param)

        model_stats = self._stats.for_model(chat.model)
        model_stats.received += 1
        model_stats.in_flight += 1
        try:
            return await self._answer(request, chat, model_stats)
        except asyncio.CancelledError:
            # aiohttp cancels the handler when the client disconnects (or the server shuts down).
            model_stats.cancelled += 1
            raise
        finally:
            model_stats.in_flight -= 1

    async def _answer(self, request: web.Request, chat: ChatRequest, model_stats: ModelStats) -> web.StreamResponse:
        behaviour = self._registry.resolve(chat.model)
        attempt = self._registry.count_attempt(chat.model)

        if behaviour.delay_ms and not await _sleep_while_client_waits(request, behaviour.delay_ms / 1000):
            model_stats.cancelled += 1
            return web.Response(status=_CLIENT_CLOSED_STATUS)
        if behaviour.hang:
            await _sleep_while_client_waits(request, math.inf)
            model_stats.cancelled += 1
            return web.Response(status=_CLIENT_CLOSED_STATUS)

        prompt_token_count = prompt_tokens(chat.messages)
        failure = self._failure(chat, behaviour, attempt, prompt_token_count)
        if failure is not None:
            model_stats.failed += 1
            return failure

        full_answer = compose_answer(
            chat.model, chat.messages, behaviour.answer, max(behaviour.min_words, behaviour.chunks)
        )
        answer, finish_reason = truncate_to_tokens(full_answer, chat.max_tokens)
        completion_token_count = estimate_tokens(answer)
        usage = {
            "prompt_tokens": prompt_token_count,
            "completion_tokens": completion_token_count,
            "total_tokens": prompt_token_count + completion_token_count,
        }
        if chat.stream:
            return await self._stream(request, chat, behaviour, answer, finish_reason, usage, model_stats)
        body = {
            "id": f"chatcmpl-mock-{next(self._completion_ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": chat.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer},
                    "finish_reason": finish_reason,
                }
            ],
            "usage": usage,
        }
        model_stats.succeeded += 1
        return web.Response(body=_compact_json(body).encode(), content_type=_JSON_CONTENT_TYPE)

    def _failure(
        self, chat: ChatRequest, behaviour: Behaviour, attempt: int, prompt_token_count: int
    ) -> web.Response | None:
        """Return the error this request must get, or None to answer it."""
        if attempt <= behaviour.fail_first_n or (behaviour.error_rate and self._rng.random() < behaviour.error_rate):
            return errors.injected_failure(behaviour.error_status, chat.model, behaviour.retry_after_seconds)
        if (
            behaviour.context_window is not None
            and prompt_token_count + (chat.max_tokens or 0) > behaviour.context_window
        ):
            return errors.context_length_exceeded(behaviour.context_window, prompt_token_count, chat.max_tokens)
        if behaviour.content_policy:
            return errors.content_filtered()
        return None

    async def _stream(
        self,
        request: web.Request,
        chat: ChatRequest,
        behaviour: Behaviour,
        answer: str,
        finish_reason: str,
        usage: dict[str, int],
        model_stats: ModelStats,
    ) -> web.StreamResponse:
        """Send the answer as OpenAI chat.completion.chunk server-sent events."""
        # Everything but the delta is the same in every chunk, so it is serialised once per stream.
        envelope = _compact_json(
            {
                "id": f"chatcmpl-mock-{next(self._completion_ids)}",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": chat.model,
            }
        )[:-1]
        delta_prefix = f'data: {envelope},"choices":[{{"index":0,"delta":'
        open_choice_suffix = ',"finish_reason":null}]}\n\n'
        pieces = split_into_chunks(answer, behaviour.chunks)
        cut_after = behaviour.cut_after_chunks
        chunk_delay_seconds = behaviour.chunk_delay_ms / 1000

        response = web.StreamResponse(headers=_SSE_HEADERS)
        try:
            await response.prepare(request)
            await response.write(f'{delta_prefix}{{"role":"assistant","content":""}}{open_choice_suffix}'.encode())
            for sent, piece in enumerate(pieces):
                if sent == cut_after:
                    break
                if chunk_delay_seconds:
                    await asyncio.sleep(chunk_delay_seconds)
                content = _compact_json({"content": piece})
                await response.write(f"{delta_prefix}{content}{open_choice_suffix}".encode())
            if cut_after is not None:
                return self._cut(request, response, model_stats)
            await response.write(f'{delta_prefix}{{}},"finish_reason":"{finish_reason}"}}]}}\n\n'.encode())
            if chat.include_usage:
                await response.write(f'data: {envelope},"choices":[],"usage":{_compact_json(usage)}}}\n\n'.encode())
            await response.write(_SSE_DONE)
            await response.write_eof()
        except ConnectionResetError:
            # The client left mid-stream; aiohttp reports it on the next write.
            model_stats.cancelled += 1
            return response
        model_stats.succeeded += 1
        return response

    @staticmethod
    def _cut(request: web.Request, response: web.StreamResponse, model_stats: ModelStats) -> web.StreamResponse:
        """Close the connection mid-body: the client sees a chunked body that never ends, as on a real cut."""
        transport = request.transport
        if transport is not None:
            # close() rather than abort(): the chunks already written still reach the client first.
            transport.close()
        model_stats.cut += 1
        return response

    async def list_models(self, request: web.Request) -> web.Response:
        """Answer ``GET /v1/models`` with the built-in and configured model names."""
        names = sorted(set(BUILTIN_MODELS) | set(self._registry.configured_models()))
        body = {"object": "list", "data": [_model_card(name) for name in names]}
        return web.json_response(body)

    async def get_model(self, request: web.Request) -> web.Response:
        """Answer ``GET /v1/models/{model}``; every name is served, so every name exists."""
        return web.json_response(_model_card(request.match_info["model"]))

    async def healthz(self, request: web.Request) -> web.Response:
        """Answer ``GET /healthz``: the process is up and serving."""
        return web.json_response({"status": "ok"})

    async def get_behaviours(self, request: web.Request) -> web.Response:
        """Answer ``GET /_mock/behaviours`` with start-up entries, admin overrides and their result."""
        return web.json_response(self._registry.snapshot())

    async def put_behaviour(self, request: web.Request) -> web.Response:
        """Answer ``PUT /_mock/behaviours/{model}``: replace that model's (or ``*``'s) behaviour."""
        model = request.match_info["model"]
        try:
            behaviour = self._registry.set_override(model, json.loads(await request.read()))
        except ValueError as invalid:  # BehaviourError and JSONDecodeError are both ValueErrors.
            return errors.invalid_request(str(invalid))
        return web.json_response({"model": model, "behaviour": behaviour.to_dict()})

    async def delete_behaviour(self, request: web.Request) -> web.Response:
        """Answer ``DELETE /_mock/behaviours/{model}``: drop one admin override."""
        model = request.match_info["model"]
        if not self._registry.remove_override(model):
            return errors.error_response(404, f"No override for {model!r}.", error_type="invalid_request_error")
        return web.json_response({"model": model, "removed": True})

    async def reset_behaviours(self, request: web.Request) -> web.Response:
        """Answer ``DELETE /_mock/behaviours``: drop all admin overrides and fail_first_n progress."""
        self._registry.reset_overrides()
        return web.json_response(self._registry.snapshot())

    async def get_stats(self, request: web.Request) -> web.Response:
        """Answer ``GET /_mock/stats`` with per-model and total counters."""
        return web.json_response(self._stats.snapshot())

    async def reset_stats(self, request: web.Request) -> web.Response:
        """Answer ``DELETE /_mock/stats``: zero the counters and fail_first_n progress."""
        self._stats.reset()
        self._registry.reset_attempts()
        return web.json_response(self._stats.snapshot())


def _model_card(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "sluicegate-mock-upstream"}


# UPSTREAM_KEY finds the MockUpstream behind an app, for tests that want its registry or stats directly.
UPSTREAM_KEY = web.AppKey("mock_upstream", MockUpstream)


def create_app(
    behaviours: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    required_api_key: str | None = None,
    seed: int | None = None,
) -> web.Application:
    """Build the mock upstream application.

    behaviours maps model name (or ``"*"``) to a partial behaviour; required_api_key, when set, makes every
    chat completion without ``Authorization: Bearer <key>`` fail with 401; seed fixes the draws behind
    ``error_rate``. Raises BehaviourError for an invalid behaviour.
    """
    upstream = MockUpstream(
        BehaviourRegistry(behaviours),
        UpstreamStats(),
        required_api_key=required_api_key,
        rng=random.Random(seed),
    )
    app = web.Application()
    app[UPSTREAM_KEY] = upstream
    app.router.add_post("/v1/chat/completions", upstream.chat_completions)
    app.router.add_post("/chat/completions", upstream.chat_completions)
    app.router.add_get("/v1/models", upstream.list_models)
    app.router.add_get("/models", upstream.list_models)
    app.router.add_get("/v1/models/{model:.+}", upstream.get_model)
    app.router.add_get("/healthz", upstream.healthz)
    app.router.add_get("/_mock/behaviours", upstream.get_behaviours)
    app.router.add_delete("/_mock/behaviours", upstream.reset_behaviours)
    app.router.add_put("/_mock/behaviours/{model:.+}", upstream.put_behaviour)
    app.router.add_delete("/_mock/behaviours/{model:.+}", upstream.delete_behaviour)
    app.router.add_get("/_mock/stats", upstream.get_stats)
    app.router.add_delete("/_mock/stats", upstream.reset_stats)
    return app
