"""Measures another OpenAI-compatible gateway the way `make bench` measures ours, for a comparison on the same host.

    python -m sluicegate.devstack.compare --gateway http://127.0.0.1:4000 --direct http://127.0.0.1:18090 --pid PID

`--gateway` is the other gateway, in front of the mock upstream at `--direct` (start one with
`python -m sluicegate_mock_upstream --port 18090`); `--pid` is the gateway's root process, whose tree's CPU is read
during the fixed-rate run. The request is the bench's pass-through request, and the loops are the bench's own: one
request at a time, an open loop at `--rps`, then 32 in flight. Latencies of the gateway are printed as the overhead
over the direct call under the same load.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import aiohttp

from sluicegate.devstack.bench import PROMPT, closed_loop, open_loop, percentile, process_tree_cpu_seconds

BODY = {"model": "mock-balanced", "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 64}


async def _measure(
    http: aiohttp.ClientSession, base_url: str, pid: int | None, args: argparse.Namespace
) -> tuple[list[float], float]:
    url = f"{base_url.rstrip('/')}/v1/chat/completions"
    headers = {"authorization": f"Bearer {args.api_key}"}

    async def call() -> float:
        start = time.perf_counter()
        async with http.post(url, json=BODY, headers=headers) as response:
            await response.read()
            response.raise_for_status()
        return (time.perf_counter() - start) * 1000

    await closed_loop(call, 40, 4)  # warm-up
    sequential, _, seq_errors = await closed_loop(call, args.requests, 1)
    before = process_tree_cpu_seconds(pid) if pid else 0.0
    paced, paced_errors = await open_loop(call, args.rps, args.seconds)
    cpu_ms = (process_tree_cpu_seconds(pid) - before) * 1000 / max(1, len(paced) + paced_errors) if pid else 0.0
    _, throughput, sat_errors = await closed_loop(call, args.requests, args.concurrency)
    figures = [percentile(sequential, 50), percentile(sequential, 99), percentile(paced, 50), percentile(paced, 99)]
    return [*figures, throughput, seq_errors + paced_errors + sat_errors], cpu_ms


async def run(args: argparse.Namespace) -> str:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as http:
        direct, _ = await _measure(http, args.direct, None, args)
        gateway, cpu_ms = await _measure(http, args.gateway, args.pid, args)
    overhead = [gateway[index] - direct[index] for index in range(4)]
    return (
        f"{'':10} {'seq p50':>7} {'seq p99':>7} {'@rps p50':>8} {'@rps p99':>8} {'sat req/s':>9} {'errors':>6}\n"
        f"{'direct':10} " + " ".join(f"{value:7.2f}" for value in direct[:4]) + f" {direct[4]:9.1f} {direct[5]:6d}\n"
        f"{'overhead':10} " + " ".join(f"{value:7.2f}" for value in overhead) + f" {gateway[4]:9.1f} {gateway[5]:6d}\n"
        f"(the gateway's process tree spent {cpu_ms:.2f} ms of CPU a request at {args.rps:g} req/s)\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sluicegate.devstack.compare", description=__doc__)
    parser.add_argument("--gateway", required=True, help="the other gateway's base URL")
    parser.add_argument("--direct", required=True, help="the mock upstream's base URL, behind the gateway")
    parser.add_argument("--pid", type=int, help="the gateway's root process, for its CPU a request")
    parser.add_argument("--api-key", default="sk-none", help="the gateway's key, sent as a bearer token")
    parser.add_argument("--requests", type=int, default=300, help="requests for the sequential and saturation runs")
    parser.add_argument("--rps", type=float, default=50.0, help="open-loop request rate")
    parser.add_argument("--seconds", type=float, default=10.0, help="open-loop duration")
    parser.add_argument("--concurrency", type=int, default=32, help="in flight for the saturation run")
    print(asyncio.run(run(parser.parse_args(argv))), end="")  # noqa: T201 - the tool's output
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
