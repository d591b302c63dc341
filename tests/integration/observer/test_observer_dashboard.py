"""The dashboard in headless Chromium after traffic: every chart draws points, and a screenshot is kept."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from observer_harness import observer_serving, timestamp, trace

from sluicegate.common.v1 import decision_pb2
from sluicegate_observer.headless import chromium_argv, chromium_path

ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts"
MODELS = ("fast", "balanced", "reasoning")
TENANTS = ("acme", "globex", "initech")


class BodyAttributes(HTMLParser):
    """Collects the `<body>` tag's attributes from the DOM Chromium dumps."""

    def __init__(self) -> None:
        super().__init__()
        self.attributes: dict[str, str | None] = {}

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "body":
            self.attributes = dict(attrs)


async def chromium(url: str, *options: str) -> bytes:
    with tempfile.TemporaryDirectory() as profile:
        process = await asyncio.create_subprocess_exec(
            *chromium_argv(profile, url, *options),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        stdout, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, f"chromium exited with {process.returncode}"
    return stdout


def traffic(now: float) -> list:
    """Forty minutes of requests over three models and tenants, with some errors and cache hits."""
    hit = decision_pb2.DecisionRecord(cache=decision_pb2.CacheDecision(outcome=decision_pb2.CACHE_OUTCOME_HIT_EXACT))
    miss = decision_pb2.DecisionRecord(cache=decision_pb2.CacheDecision(outcome=decision_pb2.CACHE_OUTCOME_MISS))
    return [
        trace(
            f"dash-{i}",
            timestamp=timestamp(now - 2400 + i * 8),
            model=MODELS[i % 3],
            tenant_id=TENANTS[i % 7 % 3],
            duration_ms=100.0 + (i * 37) % 900,
            cost_micros_usd=50 + (i % 3) * 400,
            status_code="UNAVAILABLE" if i % 13 == 0 else "OK",
            decision=hit if i % 4 == 0 else miss,
        )
        for i in range(300)
    ]


@pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed (apt-get install chromium)")
async def test_dashboard_renders_every_chart_with_data_in_chromium():
    async with observer_serving() as observer:
        assert await observer.record(traffic(time.time())) == 300
        url = f"http://127.0.0.1:{observer.http_port}/dashboard"

        dom = (await chromium(url, "--dump-dom")).decode()
        ARTIFACTS.mkdir(exist_ok=True)
        screenshot = ARTIFACTS / "observer-dashboard.png"
        screenshot.unlink(missing_ok=True)
        await chromium(url, f"--screenshot={screenshot}")

    body = BodyAttributes()
    body.feed(dom)
    assert body.attributes.get("data-ready") == "true", "the page never rendered its data"
    assert body.attributes["data-requests"] == "300"
    charts = json.loads(body.attributes["data-charts"])
    assert set(charts) == {"cost_model", "cost_tenant", "latency", "requests", "tokens", "cache", "errors", "spenders"}
    assert all(points > 0 for points in charts.values()), charts
    assert charts["errors"] == len(MODELS)
    assert charts["spenders"] == len(TENANTS)
    assert dom.count('class="series"') >= 3 + 3 + 3 + 2 + 2 + 1
    assert screenshot.stat().st_size > 20_000
    assert screenshot.read_bytes().startswith(b"\x89PNG")
