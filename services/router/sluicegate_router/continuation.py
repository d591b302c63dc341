"""Continuing a stream that was cut mid-answer: the request that asks another deployment to go on, and the
filter that keeps a continuation from repeating text the client already has."""

from __future__ import annotations

from sluicegate_router.provider import ProviderRequest

# The turn after the partial answer. A trailing assistant message alone is continued only by providers that
# take it as a prefill (Anthropic); the others answer a fresh turn unless asked.
CONTINUE_INSTRUCTION = (
    "Your previous answer was cut off. Continue it from exactly where it stopped, without repeating any of it "
    "and without any preface."
)

_TOKEN_LIMITS = ("max_tokens", "max_completion_tokens")


def continuation_request(request: ProviderRequest, partial_text: str, generated_tokens: int) -> ProviderRequest:
    """The call that continues `partial_text`: the conversation, the partial answer as the assistant's turn and
    the instruction to continue it. The token limit shrinks by what was generated, so the whole answer stays
    within the caller's max_tokens (and the context window the hard filters checked)."""
    params = dict(request.params)
    for limit in _TOKEN_LIMITS:
        if params.get(limit):
            params[limit] = max(int(params[limit]) - generated_tokens, 1)
    messages = [
        *request.messages,
        {"role": "assistant", "content": partial_text},
        {"role": "user", "content": CONTINUE_INSTRUCTION},
    ]
    return ProviderRequest(messages=messages, params=params)


class RepeatFilter:
    """Drops a continuation's restatement of the text the client already has.

    While the continuation's text is still a beginning of the sent text it is held back; once it goes past all
    of the sent text, that restated part is dropped and the rest let through; once it differs, everything held
    is let through. A continuation that ends while it has only restated sent text adds nothing.
    """

    def __init__(self, sent: str) -> None:
        self._sent = sent
        self._held = ""
        self._decided = not sent

    def feed(self, text: str) -> str:
        """The part of `text` to pass on to the client now."""
        if self._decided:
            return text
        held = self._held + text
        if len(held) < len(self._sent) and self._sent.startswith(held):
            self._held = held
            return ""
        self._decided = True
        self._held = ""
        return held[len(self._sent) :] if held.startswith(self._sent) else held
