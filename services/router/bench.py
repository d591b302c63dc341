"""Router overhead: Complete and CompleteStream through the router versus the same call straight to the mock upstream.

Starts the mock upstream and a router as processes on free ports, then, sequentially and with 50 calls in
flight (`--concurrency`), measures the latency of a direct httpx call to the mock and of the same call through the router, and
prints both and their difference (the router's overhead: gRPC, routing, the provider client) at p50 and p99,
and the router process's CPU time per call (from /proc), with the streamed calls' extra CPU per chunk.

    .venv/bin/python services/router/bench.py [--requests 300] [--concurrency 50] [--path lean|litellm]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
import httpx
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sluicegate.common.v1 import chat_pb2
from sluicegate.convert import text_message
from sluicegate.devstack.processes import ManagedProcess
from sluicegate.router.v1 import router_pb2, router_pb2_grpc

MODEL = "mock-fast"
# A longer stream of the same kind: the CPU difference between the two streams, per extra chunk, is the
# router's marginal cost of a streamed chunk (fixed per-call costs cancel out).
LONG_MODEL = "mock-chunks-32"
PROMPT = "Summarize the benefits of connection pooling in two sentences."
Call = Callable[[], Awaitable[None]]


def catalog(api_base: str) -> dict:
    def deployment(name: str, model: str) -> dict:
        return {
            "name": name,
            "litellm_model": f"openai/{model}",
            "api_base": api_base,
            "price": {"input_per_mtok_usd": 0.15, "output_per_mtok_usd": 0.6},
        }

    return {
        "version": 1,
        "tiers": dict.fromkeys(("simple", "medium", "complex", "creative"), "bench"),
        "models": {
            "bench": {"tier": "medium", "deployments": [deployment("bench-mock", MODEL)]},
            "bench-long": {"tier": "medium", "deployments": [deployment("bench-mock-long", LONG_MODEL)]},
        },
    }


async def measure(call: Call, requests: int, concurrency: int) -> tuple[list[float], float]:
    """Latencies in ms of `requests` calls made by `concurrency` workers, and the calls per second."""
    latencies: list[float] = []
    remaining = iter(range(requests))

    async def worker() -> None:
        for _ in remaining:
            started = time.perf_counter()
            await call()
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, requests / (time.perf_counter() - started)


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


async def wait_until_serving(channel: grpc.aio.Channel, timeout_seconds: float = 60.0) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        response = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
        if response.status == health_pb2.HealthCheckResponse.SERVING:
            return
        await asyncio.sleep(0.2)
    raise TimeoutError("the router never reported SERVING")


async def run(router_address: str, router_pid: int, mock_url: str, requests: int, in_flight: int) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}]}
    call = router_pb2.ModelCall(model="bench", messages=[text_message(chat_pb2.ROLE_USER, PROMPT)])
    async with (
        httpx.AsyncClient(base_url=mock_url, timeout=30) as http,
        grpc.aio.insecure_channel(router_address) as channel,
    ):
        await wait_until_serving(channel)
        router = router_pb2_grpc.RouterServiceStub(channel)

        async def direct_plain() -> None:
            (await http.post("/v1/chat/completions", json=body)).raise_for_status()

        async def direct_stream() -> None:
            streamed = body | {"stream": True, "stream_options": {"include_usage": True}}
            async with http.stream("POST", "/v1/chat/completions", json=streamed) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data: ") and line != "data: [DONE]":
                        json.loads(line.removeprefix("data: "))

        async def routed_plain() -> None:
            await router.Complete(router_pb2.CompleteRequest(call=call), timeout=30)

        def routed_stream_of(model_call: router_pb2.ModelCall) -> Call:
            async def routed_stream() -> None:
                request = router_pb2.CompleteStreamRequest(call=model_call)
                async for _ in router.CompleteStream(request, timeout=30):
                    pass

            return routed_stream

        routed_stream = routed_stream_of(call)
        long_call = router_pb2.ModelCall()
        long_call.CopyFrom(call)
        long_call.model = "bench-long"
        routed_long_stream = routed_stream_of(long_call)

        for warm_up in (direct_plain, direct_stream, routed_plain, routed_stream, routed_long_stream):
            await measure(warm_up, 30, 5)

        header = f"{'mode':<8}{'conc':>5}{'direct p50':>12}{'p99':>8}{'router p50':>12}{'p99':>8}"
        header += f"{'overhead p50':>14}{'p99':>8}{'router rps':>12}{'cpu ms/call':>13}"
        sys.stdout.write(f"{requests} calls each, latencies in ms\n{header}\n")
        cpu_per_call: dict[tuple[str, int], float] = {}
        for mode, direct, routed in (("plain", direct_plain, routed_plain), ("stream", direct_stream, routed_stream)):
            for concurrency in (1, in_flight):
                direct_ms, _ = await measure(direct, requests, concurrency)
                cpu_before = process_cpu_seconds(router_pid)
                routed_ms, routed_rps = await measure(routed, requests, concurrency)
                cpu_ms = (process_cpu_seconds(router_pid) - cpu_before) * 1000 / requests
                cpu_per_call[mode, concurrency] = cpu_ms
                d50, d99 = percentile(direct_ms, 0.5), percentile(direct_ms, 0.99)
                r50, r99 = percentile(routed_ms, 0.5), percentile(routed_ms, 0.99)
                sys.stdout.write(
                    f"{mode:<8}{concurrency:>5}{d50:>12.2f}{d99:>8.2f}{r50:>12.2f}{r99:>8.2f}"
                    f"{r50 - d50:>14.2f}{r99 - d99:>8.2f}{routed_rps:>12.0f}{cpu_ms:>13.2f}\n"
                )
        for concurrency in (1, in_flight):
            cpu_before = process_cpu_seconds(router_pid)
            await measure(routed_long_stream, requests, concurrency)
            long_ms = (process_cpu_seconds(router_pid) - cpu_before) * 1000 / requests
            short_ms = cpu_per_call["stream", concurrency]
            sys.stdout.write(
                f"stream, {concurrency} in flight: router CPU {short_ms:.2f} ms ({MODEL}, 8 chunks), "
                f"{long_ms:.2f} ms ({LONG_MODEL}): {(long_ms - short_ms) / 24:.3f} ms per extra chunk\n"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="calls per measurement")
    parser.add_argument("--concurrency", type=int, default=50, help="calls in flight for the concurrent rows")
    parser.add_argument(
        "--path",
        choices=("lean", "litellm"),
        default="lean",
        help="the router's provider path: the lean OpenAI-compatible client (default) or litellm for everything",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="router-bench-") as scratch:
        logs = Path(scratch)
        env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        mock = ManagedProcess(
            "mock-upstream", [sys.executable, "-m", "sluicegate_mock_upstream", "--port", "0"], logs, env=env
        )
        mock_url = "http://" + mock.start()
        catalog_path = logs / "catalog.yaml"
        catalog_path.write_text(yaml.safe_dump(catalog(f"{mock_url}/v1")))
        router = ManagedProcess(
            "router",
            [sys.executable, "-m", "sluicegate_router"],
            logs,
            env=env
            | {"ROUTER_PORT": "0", "ROUTER_CATALOG_PATH": str(catalog_path)}
            | ({"ROUTER_LEAN_PROVIDERS": ""} if args.path == "litellm" else {}),
        )
        try:
            address = router.start()
            assert router.process is not None
            asyncio.run(run(address, router.process.pid, mock_url, args.requests, args.concurrency))
        finally:
            router.stop()
            mock.stop()


if __name__ == "__main__":
    main()
