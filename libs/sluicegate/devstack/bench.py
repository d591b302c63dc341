"""End-to-end benchmark through Envoy: latency over a direct call to the mock upstream, throughput, CPU per service.

`make bench` (or `python -m sluicegate.devstack.bench`) starts its own stack on free ports, warms it up and
prints one table. Scenarios: the full pipeline (guard, budget, route, output guard; a cache lookup that
embeds the question and misses), the same with a number no stored question has (the lookup misses without
embedding), a cache hit, and a stream's time to first token; `--pass-through` starts the stack with guard and
cache off, and `--without-observer` stops the observer first (its cost on the request path). Each scenario is
measured three ways: one request at a time; open-loop at a fixed rate (`--rps`,
requests start on schedule whether or not earlier ones finished, as real traffic does); and closed-loop at
`--concurrency` for saturation throughput. CPU milliseconds per request are read from /proc for every
service's process tree during the fixed-rate run. The last lines name what can stall every request at once on a
shared machine (the CPU the hypervisor took while measuring, and Redis's own stalls: its latency monitor) and the
machine itself: its processor, and the CPU time of a fixed piece of pure Python, so that runs on different hosts
(a VM may land on another processor from one day to the next) can be told apart.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import string
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import grpc
import redis.asyncio as aioredis

from sluicegate.common.v1 import chat_pb2
from sluicegate.convert import text_message
from sluicegate.devstack.stack import Stack, StackConfig
from sluicegate.gateway.v1 import gateway_pb2, gateway_pb2_grpc

PROMPT = "Summarize the quarterly report in three bullet points"
Call = Callable[[], Awaitable[float]]
_TICKS = os.sysconf("SC_CLK_TCK")
# Redis reports its own stalls longer than this (LATENCY LATEST): a slow disk under the append-only file, say.
REDIS_STALL_MS = 10


def percentile(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def process_tree_cpu_seconds(root_pid: int) -> float:
    """User + system CPU of a process and its live descendants (the guard's worker pool, say)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / _TICKS
    tree, frontier = {root_pid}, [root_pid]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(times.get(pid, 0.0) for pid in tree)


def cpu_snapshot(stack: Stack) -> dict[str, float]:
    snapshot: dict[str, float] = {}
    groups = {name: processes for name, processes in stack.processes.items()}
    groups["envoy"] = [stack.envoy] if stack.envoy else []
    groups["mock"] = [stack.mock] if stack.mock else []
    for name, processes in groups.items():
        snapshot[name] = sum(process_tree_cpu_seconds(p.process.pid) for p in processes if p.process)
    return snapshot


def stolen_seconds() -> float:
    """CPU time the hypervisor took from this machine's cores so far (the `steal` column of /proc/stat)."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        return int(Path("/proc/stat").read_text().split("\n", 1)[0].split()[8]) / _TICKS
    return 0.0


def processor(cpuinfo: str | None = None) -> str:
    """The first processor's name, family and model (a VM's name alone may not say its generation)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    fields: dict[str, str] = {}
    for line in cpuinfo.split("\n\n", 1)[0].splitlines():
        name, _, value = line.partition(":")
        fields.setdefault(name.strip(), value.strip())
    name = fields.get("model name", "unknown processor")
    return f"{name}, family {fields.get('cpu family', '?')} model {fields.get('model', '?')}"


def reference_cpu_ms(repeats: int = 5) -> float:
    """The least CPU time, of `repeats`, that a fixed loop of pure Python takes: the interpreter's speed here."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        total = 0
        for number in range(300_000):
            total += number * number % 7
        best = min(best, time.process_time() - start)
    return best * 1000


async def redis_stalls(url: str) -> str:
    """The stalls Redis's latency monitor recorded (it is switched on when the bench starts), or "none"."""
    client = aioredis.Redis.from_url(url)
    try:
        events = await client.execute_command("LATENCY", "LATEST")
    finally:
        await client.aclose()
    return ", ".join(f"{event[0].decode()} up to {event[3]} ms" for event in events) or "none"


async def closed_loop(call: Call, requests: int, concurrency: int) -> tuple[list[float], float, int]:
    """`concurrency` callers back to back: latencies (ms), throughput (req/s), errors."""
    latencies: list[float] = []
    errors = 0
    remaining = requests

    async def worker() -> None:
        nonlocal errors, remaining
        while remaining > 0:
            remaining -= 1
            try:
                latencies.append(await call())
            except (grpc.aio.AioRpcError, aiohttp.ClientError):
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, requests / (time.perf_counter() - started), errors


async def open_loop(call: Call, rps: float, seconds: float) -> tuple[list[float], int]:
    """Starts a request every 1/rps seconds regardless of the others: latencies (ms) and errors."""
    latencies: list[float] = []
    errors = 0

    async def one() -> None:
        nonlocal errors
        try:
            latencies.append(await call())
        except (grpc.aio.AioRpcError, aiohttp.ClientError):
            errors += 1

    loop = asyncio.get_running_loop()
    start = loop.time()
    tasks = []
    for index in range(int(rps * seconds)):
        await asyncio.sleep(max(0.0, start + index / rps - loop.time()))
        tasks.append(asyncio.ensure_future(one()))
    await asyncio.gather(*tasks)
    return latencies, errors


async def run(args: argparse.Namespace) -> None:
    env = {"ORCHESTRATOR_GUARD_ENABLED": "false", "ORCHESTRATOR_CACHE_ENABLED": "false"} if args.pass_through else {}
    env |= {
        f"{name}_LOG_REQUESTS": "false" for name in ("ROUTER", "GUARD", "CACHE", "METERING", "OBSERVER", "ORCHESTRATOR")
    }
    reference_ms = reference_cpu_ms()  # before the stack starts, on a quiet machine
    with tempfile.TemporaryDirectory() as run_dir:
        stack = Stack(
            StackConfig(
                run_dir=Path(run_dir), gateway_port=0, use_mock_upstream=True, env=env, colocated=args.colocated
            )
        )
        sys.stderr.write("starting the stack...\n")
        stack.start()
        try:
            assert stack.redis is not None
            monitor = aioredis.Redis.from_url(stack.redis.url)
            await monitor.config_set("latency-monitor-threshold", REDIS_STALL_MS)
            await monitor.aclose()
            if args.without_observer:
                # Requests must not wait on the observer: with it stopped, the recorder only counts drops.
                stack.service("observer").stop()
            await _bench(stack, args)
        finally:
            stack.stop()
    sys.stdout.write(
        f"(machine: {processor()}; the fixed pure-Python reference loop took {reference_ms:.1f} ms of CPU)\n"
    )


def _scenarios(stack: Stack, pass_through: bool, http: aiohttp.ClientSession) -> list[tuple[str, Call, str | None]]:
    assert stack.mock is not None
    metadata = (("x-api-key", stack.api_key),)
    channel = grpc.aio.insecure_channel(stack.gateway_address)
    stub = gateway_pb2_grpc.GatewayServiceStub(channel)
    params = chat_pb2.GenerationParams(max_tokens=64)
    body = {"model": "mock-balanced", "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 64}

    def unique() -> list:
        # A unique name defeats the cache, so every call runs the whole pipeline, the question's embedding included:
        # a capitalised word of 11 random letters ("Qmzrtlbvakx"), with neither a number nor digits, so the earlier
        # questions share its match key and nothing rules them out without embedding it; the gate then refuses
        # each (an entity the others do not name). Its question is 20.9 tokens on average, as the earlier tag's
        # ("r1f0c9a2e0", 21.2): a tag with digits is an identifier no stored question mentions, which now misses
        # without embedding, as a new number does.
        name = "".join(random.choices(string.ascii_lowercase, k=11)).capitalize()
        return [text_message(chat_pb2.ROLE_USER, f"{PROMPT} ({name})")]

    def numbered() -> list:
        # A number no stored question has: the semantic layer knows without embedding that nothing can match
        # (the store after the answer embeds it, off the client's path).
        return [text_message(chat_pb2.ROLE_USER, f"{PROMPT} for account {uuid.uuid4().int % 10**9}")]

    async def direct() -> float:
        started = time.perf_counter()
        async with http.post("/v1/chat/completions", json=body) as response:
            response.raise_for_status()
            await response.read()
        return (time.perf_counter() - started) * 1000

    async def chat(messages: list) -> float:
        request = gateway_pb2.ChatRequest(messages=messages, model="balanced", params=params)
        started = time.perf_counter()
        await stub.Chat(request, metadata=metadata, timeout=30)
        return (time.perf_counter() - started) * 1000

    async def full_pipeline() -> float:
        return await chat(unique())

    async def numbered_miss() -> float:
        return await chat(numbered())

    async def cache_hit() -> float:
        return await chat([text_message(chat_pb2.ROLE_USER, PROMPT)])

    async def direct_stream_ttft() -> float:
        started = time.perf_counter()
        first = 0.0
        async with http.post("/v1/chat/completions", json={**body, "stream": True}) as response:
            async for line in response.content:
                if not first and line.startswith(b"data:") and b'"content"' in line:
                    first = (time.perf_counter() - started) * 1000
        return first

    async def stream_ttft() -> float:
        request = gateway_pb2.ChatStreamRequest(messages=unique(), model="balanced", params=params)
        started = time.perf_counter()
        first = 0.0
        async for event in stub.ChatStream(request, metadata=metadata, timeout=30):
            if not first and event.HasField("delta"):
                first = (time.perf_counter() - started) * 1000
        return first

    scenarios: list[tuple[str, Call, str | None]] = [
        ("direct to mock upstream", direct, None),
        (
            "gateway: pass-through" if pass_through else "gateway: full pipeline",
            full_pipeline,
            "direct to mock upstream",
        ),
    ]
    if not pass_through:
        scenarios.append(("gateway: full, new number", numbered_miss, "direct to mock upstream"))
        scenarios.append(("gateway: cache hit", cache_hit, "direct to mock upstream"))
    scenarios += [
        ("direct stream TTFT", direct_stream_ttft, None),
        ("gateway: stream TTFT", stream_ttft, "direct stream TTFT"),
    ]
    return scenarios


async def _bench(stack: Stack, args: argparse.Namespace) -> None:
    # The direct baseline uses the HTTP client of the router's lean provider path (aiohttp): the overhead printed
    # is what the gateway adds, not the difference between two HTTP clients.
    async with aiohttp.ClientSession(
        base_url=f"http://{stack.mock.address}",
        connector=aiohttp.TCPConnector(limit=200),
        timeout=aiohttp.ClientTimeout(total=30),
    ) as http:
        await _measure(stack, _scenarios(stack, args.pass_through, http), args)


async def _measure(stack: Stack, scenarios: list[tuple[str, Call, str | None]], args: argparse.Namespace) -> None:
    for _, call, _ in scenarios:  # warm-up: connections, first calls, worker pools
        await closed_loop(call, 20, 4)
    rows, cpu_rows, baseline = [], [], {}
    stolen_before = stolen_seconds()
    for name, call, base in scenarios:
        sequential, _, seq_errors = await closed_loop(call, args.requests, 1)
        before = cpu_snapshot(stack)
        paced, paced_errors = await open_loop(call, args.rps, args.seconds)
        after = cpu_snapshot(stack)
        _, throughput, sat_errors = await closed_loop(call, args.requests, args.concurrency)
        measured = {
            "seq": (percentile(sequential, 50), percentile(sequential, 99)),
            "rate": (percentile(paced, 50), percentile(paced, 99)),
        }
        baseline[name] = measured
        cells = []
        for kind in ("seq", "rate"):
            p50, p99 = measured[kind]
            if base is not None:
                base_p50, base_p99 = baseline[base][kind]
                cells.append(f"{p50 - base_p50:7.2f} {p99 - base_p99:7.2f}")
            else:
                cells.append(f"{p50:7.2f} {p99:7.2f}")
        errors = seq_errors + paced_errors + sat_errors
        rows.append(f"{name:26} {cells[0]} {cells[1]} {throughput:9.1f} {errors:6d}")
        requests = max(1, len(paced) + paced_errors)
        per_service = {svc: (after[svc] - before[svc]) * 1000 / requests for svc in after}
        cpu_rows.append(f"{name:26} " + " ".join(f"{per_service[svc]:8.2f}" for svc in sorted(per_service)))
        services = sorted(per_service)
    header = (
        f"{'scenario':26} {'seq p50':>7} {'seq p99':>7} {'@rps p50':>7} {'@rps p99':>7} {'sat req/s':>9} {'errors':>6}"
    )
    out = [
        f"latency in ms; gateway rows show the overhead over the direct row below them (same load); "
        f"@rps = open loop at {args.rps:g} req/s for {args.seconds:g} s; sat = {args.concurrency} in flight",
        header,
        "-" * len(header),
        *rows,
        "",
        "CPU ms per request during the @rps run, by process tree:",
        f"{'scenario':26} " + " ".join(f"{svc:>8}" for svc in services),
        *cpu_rows,
        f"(load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; CPU taken by the hypervisor while"
        f" measuring {(stolen_seconds() - stolen_before) * 1000:.0f} ms; Redis stalls over {REDIS_STALL_MS} ms:"
        f" {await redis_stalls(stack.redis.url)})",
    ]
    sys.stdout.write("\n".join(out) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sluicegate.devstack.bench", description=__doc__)
    parser.add_argument("--requests", type=int, default=300, help="requests for the sequential and saturation runs")
    parser.add_argument("--rps", type=float, default=50.0, help="open-loop request rate")
    parser.add_argument("--seconds", type=float, default=6.0, help="open-loop duration")
    parser.add_argument("--concurrency", type=int, default=32, help="in flight for the saturation run")
    parser.add_argument("--pass-through", action="store_true", help="guard and cache off")
    parser.add_argument("--without-observer", action="store_true", help="stop the observer before measuring")
    parser.add_argument(
        "--colocated",
        type=int,
        default=0,
        metavar="N",
        help="N co-located processes (orchestrator, router, guard, cache, metering) instead of one per service",
    )
    asyncio.run(run(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
