"""Prompt token counts with litellm's own counter (`litellm.token_counter`), so a reservation is sized on the
count litellm uses; the character heuristic stands in while litellm loads or when it cannot count a model."""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Callable
from typing import Protocol

from sluicegate.runtime.logs import get_logger
from sluicegate_router.background import BackgroundLoad
from sluicegate_router.provider import ProviderRequest

log = get_logger(__name__)

# Tokenizers litellm would download from the Hugging Face hub (llama, cohere): the router counts offline only,
# never with a network fetch on the request path, so for these models the heuristic stands.
_DOWNLOADED_TOKENIZERS = frozenset({"cohere", "llama2", "llama3"})

# The first count loads tiktoken's encoding (about 0.4 s); the loader pays it, not the first request.
_WARM_UP = ProviderRequest(messages=[{"role": "user", "content": "warm up"}], params={})


class Counter(Protocol):
    def count(self, model: str, request: ProviderRequest) -> int | None: ...


class LitellmTokenCounter:
    """litellm's token counter for the models whose tokenizer ships inside litellm (tiktoken, the default, and
    its bundled Anthropic and DeepSeek tokenizers)."""

    def __init__(self) -> None:
        # The catalog is the gateway's price table: litellm must not fetch its own price map from the internet.
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        self._litellm = importlib.import_module("litellm")
        self._tokenizer_kind = importlib.import_module("litellm.utils").huggingface_tokenizer_kind
        self.count("gpt-4o", _WARM_UP)

    def count(self, model: str, request: ProviderRequest) -> int | None:
        """The prompt's tokens (messages and tool definitions), or None when litellm cannot count this model
        offline. CPU work for long prompts."""
        if not model or self._tokenizer_kind(model) in _DOWNLOADED_TOKENIZERS:
            return None
        try:
            return int(
                self._litellm.token_counter(
                    model=model,
                    messages=request.messages,
                    tools=request.params.get("tools"),
                    # An image's size from its URL would be a network fetch on the request path: litellm's
                    # default image size stands instead.
                    use_default_image_token_count=True,
                )
            )
        except (ValueError, TypeError, KeyError) as error:
            # A message shape litellm's counter does not understand; the heuristic still sizes the call.
            log.warning(
                "litellm could not count the prompt; using the heuristic", model=model, error=type(error).__name__
            )
            return None


class PromptTokenCounter:
    """Counts a prompt's tokens for a deployment's model. litellm loads in a worker thread at start-up (readiness
    waits for it); until then, and for models it cannot count, the caller's heuristic estimate is returned.
    Prompts estimated at `inline_max_tokens` or more are counted in a worker thread, shorter ones inline (a
    thread hop costs more than counting them)."""

    def __init__(self, load: Callable[[], Counter] | None, inline_max_tokens: int) -> None:
        self._inline_max_tokens = inline_max_tokens
        self._counter = BackgroundLoad("litellm's token counter", load)

    async def ready(self) -> bool:
        return await self._counter.ready()

    async def count(self, model: str, request: ProviderRequest, estimate: int) -> int:
        """litellm's count of the request's prompt for `model`; `estimate` (the heuristic) when it cannot."""
        counter = self._counter.value()
        if counter is None:
            return estimate
        if estimate < self._inline_max_tokens:
            counted = counter.count(model, request)
        else:
            counted = await asyncio.to_thread(counter.count, model, request)
        return estimate if counted is None else counted

    async def aclose(self) -> None:
        await self._counter.aclose()
