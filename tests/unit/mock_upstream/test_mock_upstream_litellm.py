"""litellm, as the gateway's router calls it, accepts the mock's answers, streams and errors."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

# Without this, importing litellm tries to download its price map (see ENVIRONMENT.md).
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
litellm = pytest.importorskip("litellm")

from sluicegate_mock_upstream import create_app  # noqa: E402 (litellm must be checked for first)

MESSAGES = [{"role": "user", "content": "hello <PERSON_1>"}]


@pytest.fixture
async def api_base() -> AsyncIterator[str]:
    server = TestServer(create_app(), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield str(server.make_url("/v1"))
    finally:
        await server.close()


async def call(api_base: str, model: str, **extra: Any) -> Any:
    return await litellm.acompletion(
        model=f"openai/{model}", api_base=api_base, api_key="x", messages=MESSAGES, max_retries=0, **extra
    )


async def test_litellm_plain_completion_gets_echo_and_usage(api_base: str) -> None:
    response = await call(api_base, "mock-fast")

    assert response.choices[0].message.content.startswith("Mock answer from mock-fast: you said: hello <PERSON_1>")
    assert response.choices[0].finish_reason == "stop"
    assert response.usage.prompt_tokens == 4
    assert response.usage.completion_tokens > 0
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens


async def test_litellm_stream_gets_echo_and_usage(api_base: str) -> None:
    stream = await call(api_base, "mock-fast", stream=True, stream_options={"include_usage": True})

    pieces: list[str] = []
    finish_reasons: list[str] = []
    usage = None
    async for chunk in stream:
        if chunk.choices:
            pieces.append(chunk.choices[0].delta.content or "")
            if chunk.choices[0].finish_reason:
                finish_reasons.append(chunk.choices[0].finish_reason)
        if getattr(chunk, "usage", None) is not None:
            usage = chunk.usage

    text = "".join(pieces)
    assert text.startswith("Mock answer from mock-fast: you said: hello <PERSON_1>")
    assert finish_reasons == ["stop"]
    assert usage is not None
    assert usage.prompt_tokens == 4
    assert usage.completion_tokens == -(-len(text) // 4)


@pytest.mark.parametrize(
    ("model", "error_class"),
    [
        ("mock-ctx-5", "ContextWindowExceededError"),
        ("mock-policy", "ContentPolicyViolationError"),
        ("mock-status-429", "RateLimitError"),
        ("mock-status-503", "ServiceUnavailableError"),
        ("mock-status-500", "InternalServerError"),
        ("mock-status-401", "AuthenticationError"),
    ],
)
async def test_litellm_maps_each_injected_failure_to_its_exception(api_base: str, model: str, error_class: str) -> None:
    with pytest.raises(getattr(litellm, error_class)):
        await call(api_base, model, max_tokens=10)


async def test_litellm_raises_on_a_cut_stream(api_base: str) -> None:
    stream = await call(api_base, "mock-cut-2", stream=True)

    pieces: list[str] = []
    with pytest.raises(litellm.ServiceUnavailableError, match="Connection error"):
        async for chunk in stream:
            pieces.append(chunk.choices[0].delta.content or "")
    assert "".join(pieces).startswith("Mock answer")
