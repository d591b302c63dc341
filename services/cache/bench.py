"""Benchmark: exact Lookup latency through gRPC with 1k and 10k entries in a tenant, and Redis memory per 10k entries.

Starts its own Redis and a cache server process (port 0), fills tenant "bench" through Store, then times
sequential hits and misses. Run: .venv/bin/python services/cache/bench.py [--lookups N]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import redis.asyncio as aioredis

from sluicegate.cache.v1 import cache_pb2, cache_pb2_grpc
from sluicegate.common.v1 import chat_pb2, decision_pb2
from sluicegate.devstack.processes import ManagedProcess, RedisServer, python_module
from sluicegate.runtime.channels import create_channel
from sluicegate_cache.servicer import SERVICE_NAME

TENANT = "bench"
PROMPT = "Summarise the maintenance schedule for sluice gate {n} in three bullet points. " * 5
ANSWER = cache_pb2.CachedAnswer(
    text="- Inspect seals monthly.\n- Grease the hoist quarterly.\n- Replace the gate skin every decade. " * 6,
    model="balanced",
    finish_reason=chat_pb2.FINISH_REASON_STOP,
    usage=chat_pb2.Usage(prompt_tokens=120, completion_tokens=150, total_tokens=270),
    cost_micros_usd=1800,
)
STORE_CONCURRENCY = 32


def key(n: int) -> cache_pb2.CacheKey:
    return cache_pb2.CacheKey(
        tenant_id=TENANT,
        model="balanced",
        policy_version="v1",
        messages=[
            chat_pb2.Message(role=chat_pb2.ROLE_SYSTEM, content=[chat_pb2.ContentPart(text="You are concise.")]),
            chat_pb2.Message(role=chat_pb2.ROLE_USER, content=[chat_pb2.ContentPart(text=PROMPT.format(n=n))]),
        ],
        params=chat_pb2.GenerationParams(temperature=0.0, max_tokens=300),
    )


def report(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def fill(stub: cache_pb2_grpc.CacheServiceStub, start: int, stop: int) -> float:
    """Stores entries start..stop-1 with a few calls in flight; returns stores per second."""
    numbers = iter(range(start, stop))
    began = time.perf_counter()

    async def worker() -> None:
        for n in numbers:
            response = await stub.Store(cache_pb2.StoreRequest(key=key(n), answer=ANSWER))
            if not response.stored:
                raise RuntimeError(f"store refused: {response.skipped_reason}")

    await asyncio.gather(*(worker() for _ in range(STORE_CONCURRENCY)))
    return (stop - start) / (time.perf_counter() - began)


async def time_lookups(stub: cache_pb2_grpc.CacheServiceStub, numbers: list[int], expected: int) -> str:
    """Sequential lookups (one in flight, as one request sees it); returns "p50 / p99" in ms."""
    samples = []
    for n in numbers:
        began = time.perf_counter()
        response = await stub.Lookup(cache_pb2.LookupRequest(key=key(n)))
        samples.append((time.perf_counter() - began) * 1000)
        if response.decision.outcome != expected:
            raise RuntimeError(f"unexpected outcome {response.decision.outcome} for entry {n}")
    cuts = statistics.quantiles(samples, n=100)
    return f"p50 {cuts[49]:.3f} ms, p99 {cuts[98]:.3f} ms"


async def used_memory(client: aioredis.Redis) -> int:
    return int((await client.info("memory"))["used_memory"])


async def run(redis_url: str, address: str, lookups: int) -> None:
    client = aioredis.Redis.from_url(redis_url)
    channel = create_channel(address, [SERVICE_NAME], default_timeout_seconds=10)
    stub = cache_pb2_grpc.CacheServiceStub(channel)
    rng = random.Random(7)
    try:
        await stub.Lookup(cache_pb2.LookupRequest(key=key(-1)))  # warm the channel and the scripts
        empty = await used_memory(client)
        filled = 0
        for size in (1_000, 10_000):
            rate = await fill(stub, filled, size)
            filled = size
            hits = await time_lookups(
                stub, [rng.randrange(size) for _ in range(lookups)], decision_pb2.CACHE_OUTCOME_HIT_EXACT
            )
            misses = await time_lookups(
                stub, [size + rng.randrange(10**6) for _ in range(lookups)], decision_pb2.CACHE_OUTCOME_MISS
            )
            report(f"{size:>6} entries: hit {hits}; miss {misses}; fill {rate:.0f} stores/s")
        grown = await used_memory(client) - empty
        stats = await stub.GetStats(cache_pb2.GetStatsRequest(tenant_id=TENANT))
        report(
            f"memory for 10k entries: {grown / 2**20:.1f} MiB ({grown // 10_000} B/entry; "
            f"answer payload {stats.bytes // stats.entries} B/entry)"
        )
    finally:
        await channel.close()
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lookups", type=int, default=2000, help="timed lookups per figure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sg-cache-bench-") as tmp:
        root = Path(tmp)
        redis_server = RedisServer(data_dir=root / "redis", log_dir=root)
        redis_server.start()
        cache = ManagedProcess(
            "cache",
            python_module("sluicegate_cache"),
            log_dir=root,
            env={
                "CACHE_PORT": "0",
                "CACHE_REDIS_URL": redis_server.url,
                "CACHE_MAX_ENTRIES_PER_TENANT": "20000",
            },
        )
        try:
            address = cache.start()
            asyncio.run(run(redis_server.url, address, args.lookups))
        finally:
            cache.stop()
            redis_server.stop()


if __name__ == "__main__":
    main()
