"""Benchmark: the short calls of a gateway request (a ~60-character prompt, a ~100-character answer) with the
guard's CPU per call, InspectInput latency (p50/p99) over gRPC for prompts of 200 to 20k characters, with and
without NER, throughput with 1 and 2 analyzer workers, and the time the output PII window adds to a streamed
answer per 1k characters.

Run: `python services/guard/bench.py [--iterations N] [--short-only | --stream-only]`. It starts a private Redis (or
uses GUARD_REDIS_URL); the short calls go to the guard as deployed (its own process, default settings, one
worker), the rest to the guard in-process on a free port.
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

from sluicegate.runtime.logs import configure_logging

# Loggers bind their configuration when their module is imported: configure first, so only
# warnings reach stderr and stdout carries the figures alone.
configure_logging("guard-bench", "WARNING")

from sluicegate.common.v1 import chat_pb2  # noqa: E402
from sluicegate.devstack.processes import ManagedProcess, RedisServer, python_module  # noqa: E402
from sluicegate.guard.v1 import guard_pb2, guard_pb2_grpc  # noqa: E402
from sluicegate.runtime.channels import create_channel  # noqa: E402
from sluicegate.runtime.testing import serving  # noqa: E402
from sluicegate_guard.app import SERVICE_NAME, build  # noqa: E402
from sluicegate_guard.settings import GuardSettings  # noqa: E402

SIZES = (200, 1_000, 5_000, 20_000)
# Ordinary prose with a name, an address and a phone number every few hundred characters.
PARAGRAPH = (
    "The quarterly review covered revenue, hiring and the roadmap for the coming months. "
    "Alice Martin from the Lisbon office asked for the figures by Friday; reach her at "
    "alice.martin@example.com or +1 415 555 0132. The team agreed to revisit the budget "
    "after the product launch and to share the minutes with everyone involved. "
)


def prompt(chars: int) -> str:
    return (PARAGRAPH * (chars // len(PARAGRAPH) + 1))[:chars]


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


async def wait_ready(running, timeout_seconds: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not await running.check_readiness():
        if time.monotonic() > deadline:
            raise TimeoutError("the guard never became ready")
        await asyncio.sleep(0.2)


async def measure(redis_url: str, ner: bool, iterations: int) -> list[tuple[int, float, float, float]]:
    # The scan cache off: every timed call scans, as a new prompt would.
    settings = GuardSettings(
        port=0, redis_url=redis_url, ner=ner, log_requests=False, scan_timeout_seconds=120, scan_cache_entries=0
    )
    rows = []
    async with serving("guard", settings, build) as running:
        await wait_ready(running)
        channel = create_channel(running.address, [SERVICE_NAME], default_timeout_seconds=120)
        stub = guard_pb2_grpc.GuardServiceStub(channel)
        for size in SIZES:
            message = chat_pb2.Message(role=chat_pb2.ROLE_USER, content=[chat_pb2.ContentPart(text=prompt(size))])
            request = guard_pb2.InspectInputRequest(principal=chat_pb2.Principal(tenant_id="bench"), messages=[message])
            await stub.InspectInput(request)
            # Big prompts with NER take around a second each: fewer rounds keep the run short.
            rounds = max(5, iterations * 1_000 // max(size, 1_000)) if ner else iterations
            latencies = []
            for _ in range(rounds):
                started = time.perf_counter()
                await stub.InspectInput(request)
                latencies.append((time.perf_counter() - started) * 1000)
            rows.append((size, percentile(latencies, 0.5), percentile(latencies, 0.99), statistics.mean(latencies)))
        await channel.close()
    return rows


async def measure_throughput(redis_url: str, workers: int, seconds: float, concurrency: int = 8) -> float:
    """InspectInput calls per second on 1k-character prompts with NER, `concurrency` in flight. Each prompt is
    different, so the scan cache does not answer."""
    settings = GuardSettings(
        port=0, redis_url=redis_url, ner=True, workers=workers, log_requests=False, scan_timeout_seconds=120
    )
    async with serving("guard", settings, build) as running:
        await wait_ready(running)
        channel = create_channel(running.address, [SERVICE_NAME], default_timeout_seconds=120)
        stub = guard_pb2_grpc.GuardServiceStub(channel)
        calls = 0
        deadline = time.perf_counter() + seconds

        async def caller(index: int) -> None:
            nonlocal calls
            while time.perf_counter() < deadline:
                text = f"request {index}-{calls}: " + prompt(1_000)
                message = chat_pb2.Message(role=chat_pb2.ROLE_USER, content=[chat_pb2.ContentPart(text=text)])
                principal = chat_pb2.Principal(tenant_id="bench")
                await stub.InspectInput(guard_pb2.InspectInputRequest(principal=principal, messages=[message]))
                calls += 1

        started = time.perf_counter()
        await asyncio.gather(*(caller(index) for index in range(concurrency)))
        elapsed = time.perf_counter() - started
        await channel.close()
    return calls / elapsed


# As the orchestrator sends them: a short prompt (its suffix differs per call, so the scan cache does not answer)
# and a short answer without PII, inspected once the provider has answered.
SHORT_PROMPT = "Summarize the quarterly report in three bullet points ({:08x})"
SHORT_ANSWER = "Revenue grew {} percent on the quarter while costs held flat; hiring resumes in the second half."
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_ms(pid: int) -> tuple[float, float]:
    """User plus system CPU (ms) of a process, and of its running children (the scan workers) together."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) * 1000 / CLOCK_TICKS
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return own, sum(sum(cpu_ms(int(child))) for child in children)


async def measure_short(redis_url: str, iterations: int) -> list[tuple[str, float, float, float, float, float]]:
    """For short InspectInput and InspectOutput calls: p50/p99 latency at the caller, p50 of the time spent inside
    the guard's domain code (the verdict's duration: the rest is gRPC), and the guard's CPU per call (server, workers).
    """
    root = Path(tempfile.mkdtemp(prefix="guard-bench-"))
    # The environment the dev stack gives every service (one BLAS/OpenMP thread each).
    env = {"GUARD_REDIS_URL": redis_url, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    guard = ManagedProcess("guard", python_module("sluicegate_guard"), root, env=env)
    address = guard.start()
    assert guard.process is not None
    try:
        channel = create_channel(address, [SERVICE_NAME], default_timeout_seconds=120)
        stub = guard_pb2_grpc.GuardServiceStub(channel)
        principal = chat_pb2.Principal(tenant_id="bench")

        def inspect_input(index: int):
            text = SHORT_PROMPT.format(index)
            message = chat_pb2.Message(role=chat_pb2.ROLE_USER, content=[chat_pb2.ContentPart(text=text)])
            return stub.InspectInput(guard_pb2.InspectInputRequest(principal=principal, messages=[message]))

        def inspect_output(index: int):
            request = guard_pb2.InspectOutputRequest(principal=principal, text=SHORT_ANSWER.format(index))
            return stub.InspectOutput(request)

        rows = []
        rounds = max(200, iterations * 4)
        for name, call in (("InspectInput", inspect_input), ("InspectOutput", inspect_output)):
            for index in range(20):  # connection, warm-up, first-call costs
                await call(-index - 1)
            latencies, inside = [], []
            server_before, workers_before = cpu_ms(guard.process.pid)
            for index in range(rounds):
                started = time.perf_counter()
                response = await call(index)
                latencies.append((time.perf_counter() - started) * 1000)
                inside.append(response.verdict.duration_ms)
            server, workers = cpu_ms(guard.process.pid)
            rows.append(
                (
                    name,
                    percentile(latencies, 0.5),
                    percentile(latencies, 0.99),
                    percentile(inside, 0.5),
                    (server - server_before) / rounds,
                    (workers - workers_before) / rounds,
                )
            )
        await channel.close()
    finally:
        guard.stop()
    return rows


STREAM_CHUNK_CHARS = 4  # about one token per chunk, as models stream


async def measure_stream(redis_url: str, ner: bool, iterations: int) -> list[tuple[str, float, float, float]]:
    """Per 1k characters of streamed answer: the guard's busy time (p50, p99) and the whole call's wall time."""
    answer = prompt(1_000)
    chunks = [answer[index : index + STREAM_CHUNK_CHARS] for index in range(0, len(answer), STREAM_CHUNK_CHARS)]
    start = guard_pb2.InspectOutputStreamRequest(
        start=guard_pb2.OutputStreamStart(principal=chat_pb2.Principal(tenant_id="bench"))
    )
    requests = [start, *(guard_pb2.InspectOutputStreamRequest(text=chunk) for chunk in chunks)]
    rows = []
    for output_pii_action in ("allow", "redact"):
        settings = GuardSettings(
            port=0,
            redis_url=redis_url,
            ner=ner,
            log_requests=False,
            scan_timeout_seconds=120,
            output_pii_action=output_pii_action,
            scan_cache_entries=0,  # every round scans afresh, as distinct answers would
        )
        async with serving("guard", settings, build) as running:
            await wait_ready(running)
            channel = create_channel(running.address, [SERVICE_NAME], default_timeout_seconds=120)
            stub = guard_pb2_grpc.GuardServiceStub(channel)
            busy, wall = [], []
            for _ in range(iterations + 1):
                started = time.perf_counter()
                replies = [reply async for reply in stub.InspectOutputStream(iter(requests))]
                wall.append((time.perf_counter() - started) * 1000)
                busy.append(replies[-1].verdict.duration_ms)
            await channel.close()
        # The first round pays for connection set-up.
        rows.append(
            (output_pii_action, percentile(busy[1:], 0.5), percentile(busy[1:], 0.99), statistics.mean(wall[1:]))
        )
    return rows


async def main(iterations: int, short_only: bool, stream_only: bool) -> None:
    redis_url = os.environ.get("GUARD_REDIS_URL", "")
    redis = None
    if not redis_url:
        root = Path(tempfile.mkdtemp(prefix="guard-bench-"))
        redis = RedisServer(data_dir=root / "data", log_dir=root)
        redis.start()
        redis_url = redis.url
    try:
        out = sys.stdout
        if not stream_only:
            out.write("Short calls to the guard as deployed (own process, defaults), sequential; CPU per call\n")
            out.write(
                f"{'rpc':<16}{'p50 ms':>10}{'p99 ms':>10}{'in guard p50':>14}{'server cpu ms':>15}{'worker cpu ms':>15}\n"
            )
            for name, p50, p99, inside, server_ms, worker_ms in await measure_short(redis_url, iterations):
                out.write(f"{name:<16}{p50:>10.2f}{p99:>10.2f}{inside:>14.2f}{server_ms:>15.2f}{worker_ms:>15.2f}\n")
                out.flush()
        if short_only:
            return
        if not stream_only:
            out.write(f"InspectInput latency over gRPC, one analyzer worker, {os.cpu_count()} CPUs\n")
            out.write(f"{'mode':<14}{'chars':>8}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}\n")
            for ner in (False, True):
                for size, p50, p99, mean in await measure(redis_url, ner, iterations):
                    mode = "ner" if ner else "patterns only"
                    out.write(f"{mode:<14}{size:>8}{p50:>10.1f}{p99:>10.1f}{mean:>10.1f}\n")
                    out.flush()
        if not stream_only:
            out.write("InspectInput throughput, 1k-character prompts with NER, 8 in flight\n")
            for workers in (1, 2):
                rate = await measure_throughput(redis_url, workers, seconds=max(3.0, iterations / 10))
                out.write(f"{workers} worker{'s' if workers > 1 else ''}: {rate:8.1f} calls/s\n")
                out.flush()
        out.write(f"InspectOutputStream per 1k answer characters in {STREAM_CHUNK_CHARS}-character chunks\n")
        out.write(f"{'mode':<14}{'output pii':>11}{'busy p50 ms':>13}{'busy p99 ms':>13}{'wall ms':>10}\n")
        for ner in (False, True):
            for action, p50, p99, wall in await measure_stream(redis_url, ner, max(5, iterations // 5)):
                mode = "ner" if ner else "patterns only"
                out.write(f"{mode:<14}{action:>11}{p50:>13.1f}{p99:>13.1f}{wall:>10.1f}\n")
                out.flush()
    finally:
        if redis is not None:
            redis.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=50, help="calls per size (fewer for large NER prompts)")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--short-only", action="store_true", help="only the short-call measurement")
    only.add_argument("--stream-only", action="store_true", help="only the streamed-answer measurement")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.iterations, arguments.short_only, arguments.stream_only))
