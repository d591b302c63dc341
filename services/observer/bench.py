"""RecordTraces benchmark: ingest throughput and batch latency for batches of 1 and 100, plus a /metrics scrape.

Starts the observer as its own process (as deployed) on free ports and calls it over loopback gRPC:
    LITELLM_LOCAL_MODEL_COST_MAP=True .venv/bin/python services/observer/bench.py [--calls N] [--concurrency C]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from google.protobuf.timestamp_pb2 import Timestamp

from sluicegate.common.v1 import chat_pb2, decision_pb2
from sluicegate.devstack.processes import ManagedProcess, free_port, python_module
from sluicegate.observer.v1 import observer_pb2, observer_pb2_grpc
from sluicegate.runtime.channels import create_channel

MODELS = ("gpt-4o-mini", "gpt-4o", "claude-haiku")
STAGES = ("authenticate", "guard_input", "cache_lookup", "authorize", "route", "guard_output")


def realistic_trace(number: int) -> observer_pb2.RequestTrace:
    """A traced request with a full decision record, spread over 20 tenants and 3 models."""
    model = MODELS[number % len(MODELS)]
    request_id = f"bench-{number}"
    stamp = Timestamp()
    stamp.GetCurrentTime()
    decision = decision_pb2.DecisionRecord(
        request_id=request_id,
        route=decision_pb2.RouteDecision(model=model, deployment=f"{model}-east", policy="tier_map", reason="tier"),
        guard_verdicts=[
            decision_pb2.GuardVerdict(stage=decision_pb2.GUARD_STAGE_INPUT, action=decision_pb2.GUARD_ACTION_ALLOW),
            decision_pb2.GuardVerdict(stage=decision_pb2.GUARD_STAGE_OUTPUT, action=decision_pb2.GUARD_ACTION_ALLOW),
        ],
        cache=decision_pb2.CacheDecision(outcome=decision_pb2.CACHE_OUTCOME_MISS, stored=True),
        attempts=[
            decision_pb2.Attempt(model=model, deployment=f"{model}-east", outcome=decision_pb2.ATTEMPT_OUTCOME_SUCCESS)
        ],
        stages=[decision_pb2.StageTiming(stage=stage, duration_ms=1.5) for stage in STAGES],
    )
    return observer_pb2.RequestTrace(
        request_id=request_id,
        timestamp=stamp,
        tenant_id=f"tenant-{number % 20}",
        model=model,
        deployment=f"{model}-east",
        usage=chat_pb2.Usage(prompt_tokens=420, completion_tokens=96, total_tokens=516),
        duration_ms=180.0 + number % 900,
        cost_micros_usd=210,
        status_code="OK",
        request_type=observer_pb2.REQUEST_TYPE_CHAT,
        decision=decision,
    )


def percentile_ms(latencies: list[float], fraction: float) -> float:
    ordered = sorted(latencies)
    return ordered[min(int(len(ordered) * fraction), len(ordered) - 1)] * 1000


async def measure(stub, numbers, batch_size: int, calls: int, concurrency: int) -> tuple[float, list[float]]:
    """Sends `calls` batches with `concurrency` in flight; returns traces per second and each call's latency."""
    batches = [
        observer_pb2.RecordTracesRequest(traces=[realistic_trace(next(numbers)) for _ in range(batch_size)])
        for _ in range(calls)
    ]
    queue = iter(batches)
    latencies: list[float] = []

    async def worker() -> None:
        for batch in queue:
            started = time.perf_counter()
            response = await stub.RecordTraces(batch)
            latencies.append(time.perf_counter() - started)
            if response.accepted != batch_size:
                raise RuntimeError(f"observer kept {response.accepted} of {batch_size} traces")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return calls * batch_size / (time.perf_counter() - started), latencies


async def scrape_ms(metrics_port: int, times: int = 20) -> float:
    async with aiohttp.ClientSession() as session:
        took = []
        for _ in range(times):
            started = time.perf_counter()
            async with session.get(f"http://127.0.0.1:{metrics_port}/metrics") as response:
                await response.read()
            took.append(time.perf_counter() - started)
    return statistics.median(took) * 1000


async def run(calls: int, concurrency: int, address: str, metrics_port: int) -> None:
    channel = create_channel(address, ["sluicegate.observer.v1.ObserverService"], default_timeout_seconds=10)
    stub = observer_pb2_grpc.ObserverServiceStub(channel)
    numbers = itertools.count()
    await measure(stub, numbers, 10, 50, 1)
    out = sys.stdout
    out.write(f"{'batch':>6} {'in flight':>9} {'traces/s':>10} {'p50 ms':>8} {'p99 ms':>8}\n")
    for batch_size in (1, 100):
        batch_calls = calls if batch_size == 1 else max(calls // 10, 20)
        for in_flight in (1, concurrency):
            rate, latencies = await measure(stub, numbers, batch_size, batch_calls, in_flight)
            p50, p99 = percentile_ms(latencies, 0.50), percentile_ms(latencies, 0.99)
            out.write(f"{batch_size:>6} {in_flight:>9} {rate:>10.0f} {p50:>8.2f} {p99:>8.2f}\n")
    out.write(f"GET /metrics (20 tenants x 3 models): {await scrape_ms(metrics_port):.2f} ms median\n")
    await channel.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls with batches of 1 (a tenth of it with 100)")
    parser.add_argument("--concurrency", type=int, default=8, help="calls in flight for the concurrent rows")
    options = parser.parse_args()
    metrics_port = free_port()
    with tempfile.TemporaryDirectory() as logs:
        observer = ManagedProcess(
            "observer",
            python_module("sluicegate_observer"),
            Path(logs),
            env={
                "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                "OBSERVER_PORT": "0",
                "OBSERVER_METRICS_PORT": str(metrics_port),
                "OBSERVER_LOG_REQUESTS": "false",
            },
        )
        address = observer.start()
        try:
            asyncio.run(run(options.calls, options.concurrency, address, metrics_port))
        finally:
            observer.stop()


if __name__ == "__main__":
    main()
