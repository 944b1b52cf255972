"""The transfer limit benchmarks' pure helpers, and a tiny run of the bandwidth one through the agent's
wrappers into a local vault."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from tests.fixtures.bench_scripts import load_bench

pytestmark = pytest.mark.unit
MIB = 1 << 20


@pytest.fixture(scope="module")
def bw() -> ModuleType:
    return load_bench("bandwidth_bench")


@pytest.fixture(scope="module")
def slots() -> ModuleType:
    return load_bench("transfer_slots_bench")


def test_workloads_are_read_as_project_count_and_vms(slots: ModuleType) -> None:
    assert slots.parse_workloads("big:4x6,small:1x1") == [("big", 4, 6), ("small", 1, 1)]


def test_a_line_gives_the_achieved_rate_over_the_cap(bw: ModuleType) -> None:
    row = bw.line("backup", 20 * MIB, 100 * MIB, 4.0)
    assert (row["achieved_mib_s"], row["ratio"]) == (25.0, 1.25)
    assert bw.line("no cap", 0, 100 * MIB, 4.0)["ratio"] is None


def test_a_tiny_capped_run_stays_near_its_cap(bw: ModuleType, tmp_path: Path) -> None:
    rows = bw.run([16.0], 1.0, tmp_path)  # 16 MiB at 16 MiB/s: the quarter-second burst is a quarter of it
    assert [r["what"] for r in rows][:2] == ["backup (disk -> vault)", "restore (vault -> disk via qemu-nbd)"]
    for row in rows:
        if row["ratio"] is not None:
            assert 0.9 <= row["ratio"] <= 1.4, rows
