"""Prometheus from apt scrapes the observer; PromQL finds the traffic. The shipped rules pass promtool."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest
from observer_harness import observer_serving, timestamp, trace

from sluicegate.devstack.processes import ManagedProcess, free_port, wait_for_port_open

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "prometheus"


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (apt-get install prometheus)")
@pytest.mark.parametrize(("check", "path"), [("rules", "alerts.yml"), ("config", "prometheus.yml")])
def test_shipped_prometheus_files_pass_promtool(check, path):
    result = subprocess.run([PROMTOOL, "check", check, str(DEPLOY / path)], capture_output=True, text=True)

    assert result.returncode == 0, result.stdout + result.stderr


def prometheus_config(metrics_port: int) -> str:
    """Scrapes every half second and loads the shipped rules, so a broken rule shows up as unhealthy."""
    return json.dumps(
        {
            "global": {"scrape_interval": "500ms", "evaluation_interval": "500ms"},
            "rule_files": [str(DEPLOY / "alerts.yml")],
            "scrape_configs": [
                {"job_name": "observer", "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}]}
            ],
        }
    )


async def wait_until_ready(session: aiohttp.ClientSession, base: str) -> None:
    """Prometheus answers 503 while it replays its (empty) write-ahead log."""
    deadline = time.monotonic() + 15
    while True:
        async with session.get(f"{base}/-/ready") as response:
            if response.status == 200:
                return
        assert time.monotonic() < deadline, "Prometheus never became ready"
        await asyncio.sleep(0.1)


async def promql(session: aiohttp.ClientSession, base: str, query: str) -> dict[frozenset, float]:
    async with session.get(f"{base}/api/v1/query", params={"query": query}) as response:
        body = await response.json()
    assert body["status"] == "success", body
    return {frozenset(item["metric"].items()): float(item["value"][1]) for item in body["data"]["result"]}


@pytest.mark.skipif(PROMETHEUS is None, reason="prometheus is not installed (apt-get install prometheus)")
async def test_prometheus_scrapes_the_observer_and_promql_sees_the_traffic(tmp_path):
    async with observer_serving() as observer:
        (tmp_path / "prometheus.yml").write_text(prometheus_config(observer.http_port))
        port = free_port()
        prometheus = ManagedProcess(
            "prometheus",
            [
                PROMETHEUS,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            tmp_path,
            expect_listening_line=False,
        )
        prometheus.start()
        try:
            await asyncio.to_thread(wait_for_port_open, port)
            base = f"http://127.0.0.1:{port}"
            async with aiohttp.ClientSession() as session:
                await wait_until_ready(session, base)
            now = time.time()
            batch = [trace(f"ok-{i}", timestamp=timestamp(now)) for i in range(7)]
            batch += [trace(f"big-{i}", model="gpt-4o", tenant_id="globex", timestamp=timestamp(now)) for i in range(3)]
            batch.append(trace("failed", model="gpt-4o", status_code="UNAVAILABLE", timestamp=timestamp(now)))
            assert await observer.record(batch) == 11

            async with aiohttp.ClientSession() as session:
                expected = {frozenset({("model", "gpt-4o-mini")}): 7.0, frozenset({("model", "gpt-4o")}): 4.0}
                deadline = time.monotonic() + 15
                while (seen := await promql(session, base, "sum by (model) (sluicegate_requests_total)")) != expected:
                    assert time.monotonic() < deadline, f"Prometheus never saw the traffic: {seen}"
                    await asyncio.sleep(0.2)

                errors = await promql(session, base, "sum by (model, status_code) (sluicegate_errors_total)")
                cost = await promql(session, base, 'sluicegate_cost_micros_usd_total{tenant="globex"}')
                async with session.get(f"{base}/api/v1/rules") as response:
                    groups = (await response.json())["data"]["groups"]
        finally:
            prometheus.stop()

    assert errors == {frozenset({("model", "gpt-4o"), ("status_code", "UNAVAILABLE")}): 1.0}
    assert list(cost.values()) == [3 * 45.0]
    assert [rule["name"] for rule in groups[0]["rules"]][:2] == [
        "SluicegateLatencyP95High",
        "SluicegateTokensPerRequestHigh",
    ]
    assert {rule["health"] for group in groups for rule in group["rules"]} <= {"ok", "unknown"}
