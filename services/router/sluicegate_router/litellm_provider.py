"""The provider client over litellm. The only module that imports litellm; app.py loads it in a worker thread."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import litellm
import openai

from sluicegate.catalog import Deployment
from sluicegate.common.v1 import chat_pb2, decision_pb2
from sluicegate_router.failures import Failure, outcome_for_status, retry_after_seconds
from sluicegate_router.openai_format import ToolCallAssembler
from sluicegate_router.openai_http import PLACEHOLDER_API_KEY
from sluicegate_router.provider import ProviderAnswer, ProviderChunk, ProviderRequest

# How deep to look through an exception's causes for the connection error litellm wrapped.
_CAUSE_DEPTH = 8


def configure_litellm() -> None:
    """Turns off litellm's own telemetry, debug banners and per-chunk logging work; the router logs for itself."""
    litellm.telemetry = False
    litellm.suppress_debug_info = True
    litellm.turn_off_message_logging = True
    litellm.disable_streaming_logging = True


class LiteLLMProvider:
    """Calls deployments with `litellm.acompletion`; no retries of its own (the router's chain walk does them)."""

    def __init__(self, environ: Mapping[str, str] = os.environ) -> None:
        configure_litellm()
        self._environ = environ

    def _target(self, deployment: Deployment) -> dict[str, Any]:
        api_key = deployment.api_key(self._environ)
        if not api_key and deployment.api_base:
            api_key = PLACEHOLDER_API_KEY
        return {
            "model": deployment.litellm_model,
            "api_base": deployment.api_base,
            "api_key": api_key,
            # Fixed per deployment on purpose: litellm caches its HTTP clients by timeout, so a per-call value
            # would build a new client (and connection pool) for every call. The chain walk bounds each call
            # by the time left before the request's deadline.
            "timeout": deployment.timeout_seconds,
            "max_retries": 0,
            # A parameter the provider does not support (seed, say) is dropped rather than failing the call.
            "drop_params": True,
        }

    async def complete(self, deployment: Deployment, request: ProviderRequest) -> ProviderAnswer:
        response = await litellm.acompletion(messages=request.messages, **request.params, **self._target(deployment))
        choice = response.choices[0]
        return ProviderAnswer(
            text=choice.message.content or "",
            tool_calls=[
                chat_pb2.ToolCall(
                    id=call.id or "", name=call.function.name or "", arguments_json=call.function.arguments or ""
                )
                for call in choice.message.tool_calls or ()
            ],
            finish_reason=choice.finish_reason,
            usage=_usage(response.usage),
        )

    async def stream(self, deployment: Deployment, request: ProviderRequest) -> AsyncIterator[ProviderChunk]:
        response = await litellm.acompletion(
            messages=request.messages,
            stream=True,
            stream_options={"include_usage": True},
            **request.params,
            **self._target(deployment),
        )
        return _chunks(response)

    def classify(self, error: Exception) -> Failure | None:
        return classify_failure(error)

    async def aclose(self) -> None:
        await litellm.close_litellm_async_clients()


async def _chunks(response: Any) -> AsyncIterator[ProviderChunk]:
    """The stream's pieces; closing this generator (or cancelling it) closes litellm's stream and its HTTP body."""
    tool_calls = ToolCallAssembler()
    try:
        async for chunk in response:
            choice = chunk.choices[0] if chunk.choices else None
            usage = _usage(getattr(chunk, "usage", None))
            text = ""
            finish = None
            if choice is not None:
                text = choice.delta.content or ""
                for piece in choice.delta.tool_calls or ():
                    function = piece.function
                    tool_calls.add(
                        getattr(piece, "index", 0),
                        piece.id,
                        function.name if function else None,
                        function.arguments if function else None,
                    )
                finish = choice.finish_reason
            completed = tool_calls.take() if finish else []
            if text or completed or finish or usage:
                yield ProviderChunk(text=text, tool_calls=completed, finish_reason=finish, usage=usage)
        leftover = tool_calls.take()
        if leftover:
            yield ProviderChunk(tool_calls=leftover)
    finally:
        await response.aclose()


def _usage(usage: Any) -> chat_pb2.Usage | None:
    if usage is None:
        return None
    prompt = usage.prompt_tokens or 0
    completion = usage.completion_tokens or 0
    return chat_pb2.Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached_prompt_tokens=getattr(getattr(usage, "prompt_tokens_details", None), "cached_tokens", 0) or 0,
        reasoning_tokens=getattr(getattr(usage, "completion_tokens_details", None), "reasoning_tokens", 0) or 0,
        total_tokens=prompt + completion,
    )


def classify_failure(error: BaseException) -> Failure | None:
    """The one place a provider exception becomes an attempt outcome; None for anything that is not one."""
    status = getattr(error, "status_code", 0)
    status = status if isinstance(status, int) else 0
    if isinstance(error, litellm.ContextWindowExceededError):
        outcome = decision_pb2.ATTEMPT_OUTCOME_CONTEXT_WINDOW_EXCEEDED
    elif isinstance(error, litellm.ContentPolicyViolationError):
        outcome = decision_pb2.ATTEMPT_OUTCOME_CONTENT_POLICY
    elif isinstance(error, litellm.Timeout):
        # litellm reports a client-side timeout as 408; only a provider's 504 is an HTTP answer.
        outcome, status = decision_pb2.ATTEMPT_OUTCOME_TIMEOUT, (504 if status == 504 else 0)
    elif _caused_by_connection_error(error):
        # litellm reports a refused or dropped connection as a 500 or 503 "Connection error".
        outcome, status = decision_pb2.ATTEMPT_OUTCOME_CONNECTION_ERROR, 0
    elif isinstance(error, litellm.RateLimitError):
        outcome = decision_pb2.ATTEMPT_OUTCOME_RATE_LIMITED
    elif isinstance(error, litellm.AuthenticationError | litellm.PermissionDeniedError):
        outcome = decision_pb2.ATTEMPT_OUTCOME_AUTH_ERROR
    elif isinstance(error, litellm.InternalServerError | litellm.ServiceUnavailableError | litellm.BadGatewayError):
        outcome = decision_pb2.ATTEMPT_OUTCOME_SERVER_ERROR
    elif isinstance(error, litellm.BadRequestError | litellm.NotFoundError | litellm.UnprocessableEntityError):
        outcome = decision_pb2.ATTEMPT_OUTCOME_BAD_REQUEST
    elif isinstance(error, litellm.APIError | openai.APIStatusError) and status:
        outcome = outcome_for_status(status)
    else:
        return None
    http = f" (HTTP {status})" if status else ""
    return Failure(
        outcome=outcome,
        http_status=status,
        retry_after_seconds=retry_after_seconds(_response_headers(error)),
        # The class and status only: provider messages can quote the prompt, which must not reach the records.
        message=f"{type(error).__name__}{http}",
    )


def _caused_by_connection_error(error: BaseException) -> bool:
    cause: BaseException | None = error
    for _ in range(_CAUSE_DEPTH):
        if cause is None:
            return False
        if isinstance(cause, openai.APITimeoutError | httpx.TimeoutException):
            return False
        if isinstance(cause, openai.APIConnectionError | httpx.TransportError | ConnectionError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _response_headers(error: BaseException) -> Mapping[str, str] | None:
    headers = getattr(error, "litellm_response_headers", None)
    if headers:
        return headers
    response = getattr(error, "response", None)
    return response.headers if isinstance(response, httpx.Response) else None
