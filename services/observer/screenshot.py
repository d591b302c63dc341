"""Screenshots the dashboard after an hour of synthetic traffic (the README's picture), with headless Chromium.

LITELLM_LOCAL_MODEL_COST_MAP=True .venv/bin/python services/observer/screenshot.py [--out docs/dashboard.png]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import tempfile
import time
from pathlib import Path

from google.protobuf.timestamp_pb2 import Timestamp

from sluicegate.common.v1 import chat_pb2, decision_pb2
from sluicegate.observer.v1 import observer_pb2, observer_pb2_grpc
from sluicegate.runtime.channels import create_channel
from sluicegate.runtime.testing import serving
from sluicegate_observer.app import INGEST_SERVICE, make_build
from sluicegate_observer.headless import chromium_argv
from sluicegate_observer.settings import ObserverSettings

# model: (latency scale in ms, micro-USD per request, share of failures)
MODELS = {"fast": (250, 120, 0.004), "balanced": (900, 900, 0.02), "reasoning": (2600, 4200, 0.006)}
TENANTS = ("acme", "globex", "initech", "umbrella", "hooli")
CACHE = (decision_pb2.CACHE_OUTCOME_MISS, decision_pb2.CACHE_OUTCOME_MISS, decision_pb2.CACHE_OUTCOME_HIT_EXACT)


def synthetic_traces(now: float, count: int, seed: int = 7) -> list[observer_pb2.RequestTrace]:
    rng = random.Random(seed)
    traces = []
    for number in range(count):
        model = rng.choice(list(MODELS))
        latency_ms, cost, failures = MODELS[model]
        stamp = Timestamp()
        stamp.FromNanoseconds(int((now - rng.random() * 3540) * 1e9))
        traces.append(
            observer_pb2.RequestTrace(
                request_id=f"shot-{number}",
                timestamp=stamp,
                tenant_id=rng.choices(TENANTS, weights=(5, 3, 2, 1, 1))[0],
                model=model,
                usage=chat_pb2.Usage(prompt_tokens=rng.randint(80, 900), completion_tokens=rng.randint(20, 400)),
                duration_ms=rng.lognormvariate(0, 0.5) * latency_ms,
                cost_micros_usd=int(cost * rng.uniform(0.5, 1.5)),
                status_code="UNAVAILABLE" if rng.random() < failures else "OK",
                request_type=observer_pb2.REQUEST_TYPE_CHAT,
                decision=decision_pb2.DecisionRecord(cache=decision_pb2.CacheDecision(outcome=rng.choice(CACHE))),
            )
        )
    return traces


async def screenshot(out: Path, count: int) -> None:
    settings = ObserverSettings(port=0, metrics_port=0, alert_interval_seconds=0.2, log_requests=False)
    build = make_build(settings)
    async with serving("observer", settings, build) as running:
        channel = create_channel(running.address, [INGEST_SERVICE], default_timeout_seconds=10)
        stub = observer_pb2_grpc.ObserverServiceStub(channel)
        traces = synthetic_traces(time.time(), count)
        for start in range(0, len(traces), 500):
            await stub.RecordTraces(observer_pb2.RecordTracesRequest(traces=traces[start : start + 500]))
        await asyncio.sleep(0.5)
        with tempfile.TemporaryDirectory() as profile:
            url = f"http://127.0.0.1:{build.parts.http.port}/dashboard"
            argv = chromium_argv(profile, url, f"--screenshot={out}", window=(1440, 990))
            await asyncio.to_thread(subprocess.run, argv, check=True, capture_output=True)
        await channel.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/dashboard.png"))
    parser.add_argument("--requests", type=int, default=3000)
    options = parser.parse_args()
    options.out.parent.mkdir(parents=True, exist_ok=True)
    asyncio.run(screenshot(options.out.resolve(), options.requests))


if __name__ == "__main__":
    main()
