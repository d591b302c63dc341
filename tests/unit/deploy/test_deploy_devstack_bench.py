"""The bench's own arithmetic, its description of the machine its figures came from, and the comparison tool."""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer

from sluicegate.devstack import compare
from sluicegate.devstack.bench import percentile, processor, reference_cpu_ms
from sluicegate_mock_upstream import create_app

# Two processors as a 2-core VM lists them; only the first is described.
CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 26
model\t\t: 2
model name\t: AMD EPYC
cpu MHz\t\t: 2596.120

processor\t: 1
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC 9R14
"""


def test_the_machine_is_described_by_its_first_processor():
    assert processor(CPUINFO) == "AMD EPYC, family 26 model 2"


def test_an_unreadable_processor_list_still_gives_a_line():
    assert processor("") == "unknown processor, family ? model ?"


def test_the_reference_loop_reports_its_least_cpu_time():
    first, second = reference_cpu_ms(repeats=2), reference_cpu_ms(repeats=2)
    assert 0 < first < 5_000 and 0 < second < 5_000


def test_percentiles_are_nearest_rank():
    samples = [float(value) for value in range(1, 101)]
    assert percentile(samples, 50) == 51.0
    assert percentile(samples, 99) == 99.0
    assert percentile([3.0], 99) == 3.0
    assert percentile([], 50) != percentile([], 50)  # nan: no samples, no figure


@pytest.fixture
async def mock_url() -> AsyncIterator[str]:
    async with TestServer(create_app(), host="127.0.0.1", port=0) as server:
        yield str(server.make_url("")).rstrip("/")


def _arguments(gateway: str, direct: str, pid: int | None) -> argparse.Namespace:
    return argparse.Namespace(
        gateway=gateway, direct=direct, pid=pid, api_key="sk-none", requests=20, rps=50.0, seconds=0.4, concurrency=4
    )


def _row(report: str, name: str) -> list[str]:
    return next(line.split()[1:] for line in report.splitlines() if line.startswith(name))


async def test_another_gateway_is_measured_as_overhead_over_the_direct_call(mock_url):
    # The mock in front of itself: the "gateway" adds nothing, so its overhead is about zero.
    report = await compare.run(_arguments(mock_url, mock_url, os.getpid()))
    direct, overhead = _row(report, "direct"), _row(report, "overhead")
    assert direct[-1] == overhead[-1] == "0"  # no errors
    assert float(direct[2]) > 0 and float(direct[4]) > 0  # a p50 under load, a throughput
    assert "ms of CPU a request at 50 req/s" in report


async def test_a_gateway_that_fails_is_counted_in_errors_not_in_latency(mock_url):
    report = await compare.run(_arguments(f"{mock_url}/no-such-gateway", mock_url, None))
    # 20 sequential, 20 paced (50 req/s for 0.4 s) and 20 at saturation: every one refused.
    assert _row(report, "overhead")[-1] == "60"
