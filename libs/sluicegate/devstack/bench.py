"""End-to-end benchmark: gateway latency through Envoy minus a direct call to the mock upstream, and throughput.

`make bench` (or `python -m sluicegate.devstack.bench --requests 300 --concurrency 20`) starts its own stack on
free ports, warms it up, then prints one table. Scenarios: the full pipeline (guard, budget, route, output guard;
cache lookup that misses), a cache hit, and a stream's time to first token. `--pass-through` starts the stack with
guard and cache off, to show the floor the pipeline builds on.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
import httpx

from sluicegate.common.v1 import chat_pb2
from sluicegate.convert import text_message
from sluicegate.devstack.stack import Stack, StackConfig
from sluicegate.gateway.v1 import gateway_pb2, gateway_pb2_grpc

PROMPT = "Summarize the quarterly report in three bullet points"


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


async def measure(
    call: Callable[[], Awaitable[float]], requests: int, concurrency: int
) -> tuple[list[float], float, int]:
    """Runs `requests` calls with `concurrency` in flight; returns latencies (ms), throughput (req/s) and errors."""
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(requests):
        queue.put_nowait(index)

    async def worker() -> None:
        nonlocal errors
        while not queue.empty():
            queue.get_nowait()
            try:
                latencies.append(await call())
            except (grpc.aio.AioRpcError, httpx.HTTPError):
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return latencies, requests / elapsed, errors


async def run(args: argparse.Namespace) -> None:
    env = {"ORCHESTRATOR_GUARD_ENABLED": "false", "ORCHESTRATOR_CACHE_ENABLED": "false"} if args.pass_through else {}
    env |= {
        f"{name}_LOG_REQUESTS": "false" for name in ("ROUTER", "GUARD", "CACHE", "METERING", "OBSERVER", "ORCHESTRATOR")
    }
    with tempfile.TemporaryDirectory() as run_dir:
        stack = Stack(StackConfig(run_dir=Path(run_dir), gateway_port=0, use_mock_upstream=True, env=env))
        sys.stderr.write("starting the stack...\n")
        stack.start()
        try:
            await _bench(stack, args)
        finally:
            stack.stop()


async def _bench(stack: Stack, args: argparse.Namespace) -> None:
    assert stack.mock is not None
    metadata = (("x-api-key", stack.api_key),)
    channel = grpc.aio.insecure_channel(stack.gateway_address)
    stub = gateway_pb2_grpc.GatewayServiceStub(channel)
    http = httpx.AsyncClient(base_url=f"http://{stack.mock.address}", timeout=30)
    messages = [text_message(chat_pb2.ROLE_USER, PROMPT)]
    params = chat_pb2.GenerationParams(max_tokens=64)

    async def direct() -> float:
        started = time.perf_counter()
        response = await http.post(
            "/v1/chat/completions",
            json={"model": "mock-balanced", "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 64},
        )
        response.raise_for_status()
        return (time.perf_counter() - started) * 1000

    async def full_pipeline() -> float:
        # A unique suffix defeats the cache, so every call runs the whole pipeline.
        request = gateway_pb2.ChatRequest(
            messages=[text_message(chat_pb2.ROLE_USER, f"{PROMPT} ({uuid.uuid4().hex[:8]})")],
            model="balanced",
            params=params,
        )
        started = time.perf_counter()
        await stub.Chat(request, metadata=metadata, timeout=30)
        return (time.perf_counter() - started) * 1000

    async def cache_hit() -> float:
        request = gateway_pb2.ChatRequest(messages=messages, model="balanced", params=params)
        started = time.perf_counter()
        await stub.Chat(request, metadata=metadata, timeout=30)
        return (time.perf_counter() - started) * 1000

    async def stream_ttft() -> float:
        request = gateway_pb2.ChatStreamRequest(
            messages=[text_message(chat_pb2.ROLE_USER, f"{PROMPT} ({uuid.uuid4().hex[:8]})")],
            model="balanced",
            params=params,
        )
        started = time.perf_counter()
        first = 0.0
        async for event in stub.ChatStream(request, metadata=metadata, timeout=30):
            if not first and event.HasField("delta"):
                first = (time.perf_counter() - started) * 1000
        return first

    async def direct_stream_ttft() -> float:
        started = time.perf_counter()
        body = {
            "model": "mock-balanced",
            "messages": [{"role": "user", "content": PROMPT}],
            "max_tokens": 64,
            "stream": True,
        }
        first = 0.0
        async with http.stream("POST", "/v1/chat/completions", json=body) as response:
            async for line in response.aiter_lines():
                if not first and line.startswith("data:"):
                    first = (time.perf_counter() - started) * 1000
        return first

    await measure(full_pipeline, 30, 4)  # warm-up: connections, litellm's first call, spaCy
    await cache_hit()
    rows = []
    baseline = {}
    for name, call, base in (
        ("direct to mock upstream", direct, None),
        (
            "gateway: full pipeline" if not args.pass_through else "gateway: pass-through",
            full_pipeline,
            "direct to mock upstream",
        ),
        ("gateway: cache hit", cache_hit, "direct to mock upstream"),
        ("direct stream TTFT", direct_stream_ttft, None),
        ("gateway: stream TTFT", stream_ttft, "direct stream TTFT"),
    ):
        if args.pass_through and name == "gateway: cache hit":
            continue
        for concurrency in (1, args.concurrency):
            latencies, throughput, errors = await measure(call, args.requests, concurrency)
            p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
            baseline[(name, concurrency)] = (p50, p99)
            overhead = ""
            if base is not None:
                base_p50, base_p99 = baseline[(base, concurrency)]
                overhead = f"{p50 - base_p50:8.2f} {p99 - base_p99:8.2f}"
            rows.append(f"{name:28} {concurrency:5d} {p50:8.2f} {p99:8.2f} {overhead:17} {throughput:8.1f} {errors:6d}")
    await http.aclose()
    await channel.close()
    header = f"{'scenario':28} {'conc':>5} {'p50 ms':>8} {'p99 ms':>8} {'+p50 ms':>8} {'+p99 ms':>8} {'req/s':>8} {'errors':>6}"
    sys.stdout.write("\n".join([header, "-" * len(header), *rows]) + "\n")
    sys.stdout.write(f"({args.requests} requests per row; +p50/+p99 = gateway minus direct at the same concurrency)\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sluicegate.devstack.bench", description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--pass-through", action="store_true", help="guard and cache off")
    asyncio.run(run(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
