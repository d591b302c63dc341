"""OpenAI-shaped error responses, with the messages and codes client libraries use to classify them."""

from __future__ import annotations

import json

from aiohttp import web

# (type, code, message) OpenAI sends for each injected status; litellm and the openai SDK map errors by
# status first and by these strings second, so they follow OpenAI's wording.
_STATUS_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "The mock upstream was told to reject this request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Request not allowed."),
    404: ("invalid_request_error", "model_not_found", "The model {model} does not exist."),
    408: ("timeout", None, "Request timed out."),
    409: ("invalid_request_error", None, "Conflict with another request."),
    422: ("invalid_request_error", None, "Unprocessable request."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for {model}. Please try again later."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
    504: ("server_error", None, "Gateway timeout."),
}

# Retry-After only makes sense on answers that tell the client to come back later.
_RETRYABLE_STATUSES = frozenset({429, 503})


def error_response(
    status: int,
    message: str,
    *,
    error_type: str,
    code: str | None = None,
    param: str | None = None,
    retry_after_seconds: int | None = None,
) -> web.Response:
    """Build an HTTP error with OpenAI's body ``{"error": {"message", "type", "param", "code"}}``."""
    body = {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    headers = {}
    if retry_after_seconds is not None and status in _RETRYABLE_STATUSES:
        headers["Retry-After"] = str(retry_after_seconds)
    return web.Response(status=status, body=json.dumps(body).encode(), content_type="application/json", headers=headers)


def injected_failure(status: int, model: str, retry_after_seconds: int | None) -> web.Response:
    """Build the error an ``error_status`` behaviour asks for, worded as OpenAI words that status."""
    default_type = "server_error" if status >= 500 else "invalid_request_error"
    error_type, code, message = _STATUS_ERRORS.get(status, (default_type, None, f"Mock upstream error {status}."))
    return error_response(
        status,
        message.format(model=model),
        error_type=error_type,
        code=code,
        retry_after_seconds=retry_after_seconds,
    )


def invalid_request(message: str, *, param: str | None = None) -> web.Response:
    """Build a 400 for a request the mock cannot read, as OpenAI answers malformed requests."""
    return error_response(400, message, error_type="invalid_request_error", param=param)


def invalid_api_key() -> web.Response:
    """Build the 401 OpenAI sends for a wrong or missing bearer token."""
    return error_response(
        401, "Incorrect API key provided.", error_type="invalid_request_error", code="invalid_api_key"
    )


def context_length_exceeded(context_window: int, prompt_tokens: int, max_tokens: int | None) -> web.Response:
    """Build OpenAI's 400 for a prompt plus completion budget larger than the model's context window."""
    if max_tokens is None:
        detail = f"However, your messages resulted in {prompt_tokens} tokens."
    else:
        detail = (
            f"However, you requested {prompt_tokens + max_tokens} tokens "
            f"({prompt_tokens} in the messages, {max_tokens} in the completion)."
        )
    message = (
        f"This model's maximum context length is {context_window} tokens. {detail} "
        "Please reduce the length of the messages or completion."
    )
    return error_response(
        400, message, error_type="invalid_request_error", param="messages", code="context_length_exceeded"
    )


def content_filtered() -> web.Response:
    """Build the 400 a provider's content filter answers, as Azure OpenAI words it (code ``content_filter``)."""
    # litellm (1.110) maps an OpenAI 400 to ContentPolicyViolationError only by phrases in the message, such
    # as "request was rejected as a result of the safety system"; the message carries one, so the gateway
    # sees that error class, as with a real provider, rather than a generic BadRequestError.
    message = (
        "The response was filtered due to the prompt triggering the mock upstream's content management "
        "policy; the request was rejected as a result of the safety system. Please modify your prompt and retry."
    )
    return error_response(400, message, error_type="invalid_request_error", param="prompt", code="content_filter")
