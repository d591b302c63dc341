"""Benchmark: Authorize + Settle latency (p50/p99) and throughput at concurrency 1 and 50.

Starts its own Redis and a metering server process (port 0, request logging off), gives the benchmark
principal a budget on all four scopes so every reservation touches four buckets, and tenant and model rate
limits too high to refuse (so every Authorize also checks and counts three rate limits), then times pairs of
Authorize and Settle calls over loopback gRPC, each call on its own as well as the pair, and the CPU time the
metering process (and Redis) spent per pair, read from /proc. The machine's load average is printed before and
after: on a shared machine the figures move with it. `--profile-seconds N` pauses N seconds under load first,
printing the metering pid, so `py-spy record -p PID` can sample it.
    .venv/bin/python services/metering/bench.py [--pairs N] [--profile-seconds N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sluicegate.common.v1 import chat_pb2
from sluicegate.devstack.processes import ManagedProcess, RedisServer, python_module
from sluicegate.metering.v1 import metering_pb2, metering_pb2_grpc
from sluicegate.runtime.channels import create_channel

REPO_ROOT = Path(__file__).resolve().parents[2]
ADMIN = [("x-admin-token", "bench-admin")]
PRINCIPAL = chat_pb2.Principal(tenant_id="bench", team_id="eng", user_id="u1", key_id="key_bench")
AUTHORIZE = metering_pb2.AuthorizeRequest(principal=PRINCIPAL, model="balanced", prompt_tokens=1_200, max_tokens=400)
CHARGE = metering_pb2.UsageCharge(
    model="balanced", deployment="mock-balanced", usage=chat_pb2.Usage(prompt_tokens=1_200, completion_tokens=180)
)
BUDGETS = (
    (metering_pb2.BUDGET_SCOPE_TENANT, "bench", metering_pb2.BUDGET_WINDOW_DAILY),
    (metering_pb2.BUDGET_SCOPE_TEAM, "eng", metering_pb2.BUDGET_WINDOW_MONTHLY),
    (metering_pb2.BUDGET_SCOPE_KEY, "key_bench", metering_pb2.BUDGET_WINDOW_LIFETIME),
    (metering_pb2.BUDGET_SCOPE_USER, "u1", metering_pb2.BUDGET_WINDOW_DAILY),
)

RATE_LIMITS = (
    (metering_pb2.RATE_LIMIT_SCOPE_TENANT, "bench", ""),
    (metering_pb2.RATE_LIMIT_SCOPE_MODEL, "bench", "balanced"),
    (metering_pb2.RATE_LIMIT_SCOPE_MODEL, "", "balanced"),
)


def report(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def report_load(moment: str) -> None:
    one, five, fifteen = os.getloadavg()
    report(f"load average {moment}: {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs")


async def pair(stub: metering_pb2_grpc.MeteringServiceStub) -> tuple[float, float]:
    """One Authorize then one Settle; the wall time of each in milliseconds."""
    began = time.perf_counter()
    reservation = await stub.Authorize(AUTHORIZE)
    authorized = time.perf_counter()
    await stub.Settle(metering_pb2.SettleRequest(reservation_id=reservation.reservation_id, charges=[CHARGE]))
    return (authorized - began) * 1000, (time.perf_counter() - authorized) * 1000


def cpu_seconds(pid: int) -> float:
    """User plus system CPU a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentiles(latencies: list[float]) -> str:
    cuts = statistics.quantiles(latencies, n=100)
    return f"p50 {cuts[49]:.2f} ms, p99 {cuts[98]:.2f} ms"


async def run(
    stub: metering_pb2_grpc.MeteringServiceStub, pairs: int, concurrency: int, servers: dict[str, int]
) -> None:
    timings: list[tuple[float, float]] = []
    remaining = iter(range(pairs))

    async def worker() -> None:
        for _ in remaining:
            timings.append(await pair(stub))

    cpu_before = {name: cpu_seconds(pid) for name, pid in servers.items()}
    began = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(concurrency)])
    elapsed = time.perf_counter() - began
    cpu = ", ".join(
        f"{name} {(cpu_seconds(pid) - cpu_before[name]) * 1000 / pairs:.2f}" for name, pid in servers.items()
    )
    report(
        f"concurrency {concurrency:>2}: {pairs} Authorize+Settle pairs, {percentiles([a + s for a, s in timings])}, "
        f"{pairs / elapsed:.0f} pairs/s; Authorize {percentiles([a for a, _ in timings])}; "
        f"Settle {percentiles([s for _, s in timings])}; CPU ms per pair: {cpu}"
    )


async def load_for(stub: metering_pb2_grpc.MeteringServiceStub, seconds: float, concurrency: int) -> None:
    """Keeps the server busy for `seconds` (for a profiler to sample)."""
    until = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < until:
            await pair(stub)

    await asyncio.gather(*[worker() for _ in range(concurrency)])


async def bench(address: str, pairs: int, servers: dict[str, int], profile_seconds: float) -> None:
    channel = create_channel(
        address, ["sluicegate.metering.v1.MeteringService", "sluicegate.metering.v1.MeteringAdminService"], 10.0
    )
    admin = metering_pb2_grpc.MeteringAdminServiceStub(channel)
    for scope, subject, window in BUDGETS:
        budget = metering_pb2.Budget(
            scope=scope, subject_id=subject, tenant_id="bench", window=window, limit_micros_usd=10**12
        )
        await admin.SetBudget(metering_pb2.SetBudgetRequest(budget=budget), metadata=ADMIN)
    for scope, tenant, subject in RATE_LIMITS:
        limit = metering_pb2.RateLimit(
            scope=scope, tenant_id=tenant, subject_id=subject, requests_per_minute=10**9, tokens_per_minute=10**12
        )
        await admin.SetRateLimit(metering_pb2.SetRateLimitRequest(rate_limit=limit), metadata=ADMIN)
    stub = metering_pb2_grpc.MeteringServiceStub(channel)
    for _ in range(100):
        await pair(stub)
    if profile_seconds:
        report(f"profiling window: metering pid {servers['metering']}, {profile_seconds:.0f} s at concurrency 50")
        await load_for(stub, profile_seconds, 50)
    report_load("before")
    await run(stub, pairs, 1, servers)
    await run(stub, pairs * 4, 50, servers)
    report_load("after")
    await channel.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1000, help="pairs at concurrency 1 (four times that at 50)")
    parser.add_argument("--profile-seconds", type=float, default=0, help="load to run first, for a profiler")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        redis_server = RedisServer(data_dir=root / "redis", log_dir=root)
        redis_server.start()
        metering = ManagedProcess(
            "metering",
            python_module("sluicegate_metering"),
            root,
            env={
                "LITELLM_LOCAL_MODEL_COST_MAP": os.environ.get("LITELLM_LOCAL_MODEL_COST_MAP", "True"),
                "METERING_PORT": "0",
                "METERING_REDIS_URL": redis_server.url,
                "METERING_ADMIN_TOKEN": "bench-admin",
                "METERING_CATALOG_PATH": str(REPO_ROOT / "deploy" / "catalog" / "mock.yaml"),
                "METERING_LOG_REQUESTS": "false",
            },
        )
        try:
            address = metering.start()
            report(
                f"metering at {address}, Redis at {redis_server.address}; four budget buckets and three rate "
                "limits per reservation"
            )
            servers = {"metering": metering.process.pid, "redis": redis_server.process.pid}
            asyncio.run(bench(address, arguments.pairs, servers, arguments.profile_seconds))
        finally:
            metering.stop()
            redis_server.stop()


if __name__ == "__main__":
    main()
