"""Measures litellm's prompt token counting as the router does it: the counter's load time, the cost of one count
for prompts of 200, 2,000 and 20,000 characters (inline, and through a worker thread), litellm's count next
to the character heuristic, and the router process's time to SERVING over the mock catalog (lean client only)
with the counter off (the router before it) and on.

    .venv/bin/python services/router/bench_token_count.py
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import subprocess
import sys
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from sluicegate.common.v1 import chat_pb2  # noqa: E402
from sluicegate.convert import estimate_prompt_tokens, text_message  # noqa: E402
from sluicegate_router.openai_format import openai_message  # noqa: E402
from sluicegate_router.provider import ProviderRequest  # noqa: E402
from sluicegate_router.servicer import SERVICE_NAME  # noqa: E402
from sluicegate_router.token_count import LitellmTokenCounter  # noqa: E402

SIZES = (200, 2_000, 20_000)
MODELS = ("openai/gpt-4o", "anthropic/claude-3-haiku-20240307")
REPEATS = 50

# Varied English-like words, so the tokenizer does real work (a repeated phrase is cheaper to tokenize).
_TEXT = (
    "the router counts tokens before each call so metering can reserve the budget for a request; "
    "providers bill prompt tokens at the input price and completion tokens at the output price, "
    "with cached and reasoning tokens priced apart. Numbers 1234, 56.78 and identifiers like user_id_42 appear."
)
_WORDS = _TEXT.split()


def prompt(chars: int, rng: random.Random) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < chars:
        words.append(rng.choice(_WORDS))
    return " ".join(words)[:chars]


def requests(chars: int, rng: random.Random) -> list[ProviderRequest]:
    """A fresh prompt for every count, so no cache along the way can answer it."""
    return [
        ProviderRequest(messages=[openai_message(text_message(chat_pb2.ROLE_USER, prompt(chars, rng)))], params={})
        for _ in range(REPEATS)
    ]


def inline_ms(counter: LitellmTokenCounter, model: str, batch: list[ProviderRequest]) -> list[float]:
    samples = []
    for request in batch:
        start = time.perf_counter()
        counter.count(model, request)
        samples.append((time.perf_counter() - start) * 1000)
    return sorted(samples)


async def threaded_ms(counter: LitellmTokenCounter, model: str, batch: list[ProviderRequest]) -> list[float]:
    samples = []
    for request in batch:
        start = time.perf_counter()
        await asyncio.to_thread(counter.count, model, request)
        samples.append((time.perf_counter() - start) * 1000)
    return sorted(samples)


def seconds_to_serving(count_prompt_tokens: bool) -> float:
    """Starts `python -m sluicegate_router` and polls its health until SERVING."""
    env = os.environ | {"ROUTER_PORT": "0", "ROUTER_COUNT_PROMPT_TOKENS": str(count_prompt_tokens)}
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "sluicegate_router"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        address = next(line.split()[1] for line in process.stdout if line.startswith("LISTENING"))
        with grpc.insecure_channel(address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            while health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME)).status != (
                health_pb2.HealthCheckResponse.SERVING
            ):
                time.sleep(0.02)
        return time.perf_counter() - start
    finally:
        process.terminate()
        process.wait(timeout=10)


def main() -> None:
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (figures are noisy)")
    start = time.perf_counter()
    counter = LitellmTokenCounter()
    print(f"counter load (litellm import + tiktoken warm-up): {time.perf_counter() - start:.2f} s")
    rng = random.Random(7)
    print(f"{'model':38} {'chars':>6} {'heuristic':>9} {'litellm':>8} {'inline p50':>10} {'p99':>7} {'thread p50':>10}")
    for model in MODELS:
        for chars in SIZES:
            messages = [text_message(chat_pb2.ROLE_USER, prompt(chars, rng))]
            request = ProviderRequest(messages=[openai_message(m) for m in messages], params={})
            inline = inline_ms(counter, model, requests(chars, rng))
            threaded = asyncio.run(threaded_ms(counter, model, requests(chars, rng)))
            print(
                f"{model:38} {chars:>6} {estimate_prompt_tokens(messages):>9} {counter.count(model, request):>8} "
                f"{statistics.median(inline):>8.3f}ms {inline[int(len(inline) * 0.99) - 1]:>5.3f}ms "
                f"{statistics.median(threaded):>8.3f}ms"
            )
    for count_prompt_tokens in (False, True, False, True):
        print(
            f"router start to SERVING, count_prompt_tokens={count_prompt_tokens}: "
            f"{seconds_to_serving(count_prompt_tokens):.2f} s"
        )


if __name__ == "__main__":
    main()
