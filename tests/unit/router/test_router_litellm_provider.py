"""The litellm adapter: exceptions map to attempt outcomes, streamed tool calls are joined, streams are closed.

Imports litellm (seconds, paid once per test session).
"""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import litellm
import pytest

from sluicegate.common.v1 import chat_pb2, decision_pb2
from sluicegate_router.litellm_provider import _chunks, classify_failure

REQUEST = httpx.Request("POST", "http://provider/v1/chat/completions")


def answered(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, headers=headers, request=REQUEST)


@pytest.mark.parametrize(
    ("error", "outcome", "status", "retry_after"),
    [
        (
            litellm.RateLimitError("slow down", "openai", "m", response=answered(429, {"retry-after": "4"})),
            decision_pb2.ATTEMPT_OUTCOME_RATE_LIMITED,
            429,
            4.0,
        ),
        (
            litellm.APIConnectionError("refused", "openai", "m", request=REQUEST),
            decision_pb2.ATTEMPT_OUTCOME_CONNECTION_ERROR,
            0,
            None,
        ),
        (litellm.Timeout("slow", "m", "openai"), decision_pb2.ATTEMPT_OUTCOME_TIMEOUT, 0, None),
        (
            litellm.PermissionDeniedError("no", "openai", "m", response=answered(403)),
            decision_pb2.ATTEMPT_OUTCOME_AUTH_ERROR,
            403,
            None,
        ),
        (litellm.APIError(529, "overloaded", "anthropic", "m"), decision_pb2.ATTEMPT_OUTCOME_SERVER_ERROR, 529, None),
    ],
)
def test_litellm_errors_become_attempt_outcomes(error, outcome, status, retry_after) -> None:
    failure = classify_failure(error)

    assert failure is not None
    assert (failure.outcome, failure.http_status, failure.retry_after_seconds) == (outcome, status, retry_after)
    assert "slow down" not in failure.message, "provider text stays out of the attempt record"


def test_an_error_that_is_not_a_providers_is_not_classified() -> None:
    assert classify_failure(ValueError("a bug")) is None


class FakeStream:
    """litellm's stream wrapper as the adapter uses it: async iteration over chunks, and aclose."""

    def __init__(self, chunks: list) -> None:
        self._chunks = chunks
        self.closed = False

    def __aiter__(self):
        return self._iterate()

    async def _iterate(self):
        for chunk in self._chunks:
            yield chunk

    async def aclose(self) -> None:
        self.closed = True


def chunk(content=None, tool_calls=None, finish_reason=None, usage=None) -> SimpleNamespace:
    delta = SimpleNamespace(content=content, tool_calls=tool_calls)
    return SimpleNamespace(choices=[SimpleNamespace(delta=delta, finish_reason=finish_reason)], usage=usage)


def tool_piece(index: int, arguments: str, id: str | None = None, name: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(index=index, id=id, function=SimpleNamespace(name=name, arguments=arguments))


async def test_streamed_tool_calls_are_joined_and_sent_once_complete() -> None:
    stream = FakeStream(
        [
            chunk(content="Let me look."),
            chunk(
                tool_calls=[
                    tool_piece(0, '{"q": ', id="call-1", name="search"),
                    tool_piece(1, "{}", id="call-2", name="now"),
                ]
            ),
            chunk(tool_calls=[tool_piece(0, '"tea"}')]),
            chunk(finish_reason="tool_calls"),
            SimpleNamespace(choices=[], usage=SimpleNamespace(prompt_tokens=5, completion_tokens=7)),
        ]
    )

    pieces = [piece async for piece in _chunks(stream)]

    assert [p.text for p in pieces] == ["Let me look.", "", ""]
    assert pieces[1].finish_reason == "tool_calls"
    assert list(pieces[1].tool_calls) == [
        chat_pb2.ToolCall(id="call-1", name="search", arguments_json='{"q": "tea"}'),
        chat_pb2.ToolCall(id="call-2", name="now", arguments_json="{}"),
    ]
    assert pieces[2].usage == chat_pb2.Usage(prompt_tokens=5, completion_tokens=7, total_tokens=12)
    assert stream.closed


async def test_closing_the_stream_early_closes_litellms_stream() -> None:
    stream = FakeStream([chunk(content="one"), chunk(content="two")])
    pieces = _chunks(stream)

    assert (await anext(pieces)).text == "one"
    await pieces.aclose()

    assert stream.closed
