"""The bench's own arithmetic and its description of the machine its figures came from."""

from __future__ import annotations

from sluicegate.devstack.bench import percentile, processor, reference_cpu_ms

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
