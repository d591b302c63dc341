"""Token estimates size budget reservations: they must not run low against a real tokenizer, in any script."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from sluicegate.common.v1 import chat_pb2
from sluicegate.convert import estimate_prompt_tokens, estimate_text_tokens, text_message

SAMPLES = {
    "english": "The sluice gate regulates the flow of water in the canal, opening at dawn and closing at dusk. " * 8,
    "code": "def settle(reservation_id: str, charges: list[dict]) -> int:\n    return sum(c['cost'] for c in charges)\n"
    * 6,
    "chinese": "水闸调节运河中的水流，黎明时打开，黄昏时关闭。" * 10,
    "russian": "Шлюз регулирует поток воды в канале, открываясь на рассвете и закрываясь в сумерках. " * 6,
    "emoji": "🚀 launch the 🛶 at the 🌊 gate " * 10,
}


def _real_tokenizer():
    """cl100k_base from the encodings litellm ships (found, not imported), so nothing is downloaded."""
    tiktoken = pytest.importorskip("tiktoken")
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("litellm (the source of the offline encodings) is not installed")
    tokenizers = Path(next(iter(spec.submodule_search_locations))) / "litellm_core_utils" / "tokenizers"
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(tokenizers))
    return tiktoken.get_encoding("cl100k_base")


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_the_estimate_is_never_below_the_real_tokenizer(kind: str) -> None:
    encoding = _real_tokenizer()
    text = SAMPLES[kind]
    assert estimate_text_tokens(text) >= len(encoding.encode(text))


def test_the_prompt_estimate_adds_framing_per_message() -> None:
    one = estimate_prompt_tokens([text_message(chat_pb2.ROLE_USER, "hello there")])
    two = estimate_prompt_tokens(
        [text_message(chat_pb2.ROLE_SYSTEM, "hello there"), text_message(chat_pb2.ROLE_USER, "hello there")]
    )
    assert two - one == 4 + estimate_text_tokens("hello there")
