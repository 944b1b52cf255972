"""The workload benchmark's pure helpers: sizes, ratios and the two tables it prints."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.unit

BENCH = Path(__file__).resolve().parents[2] / "bench" / "workload_bench.py"


@pytest.fixture(scope="module")
def wb() -> ModuleType:
    spec = importlib.util.spec_from_file_location("workload_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_human_sizes(wb: ModuleType) -> None:
    assert wb.human(None) == "-"
    assert wb.human(512) == "512 B"
    assert wb.human(3 * 1024 * 1024 // 2) == "1.5 MiB"
    assert wb.human(5 * 1024**3) == "5.00 GiB"


def test_ratio_is_ours_over_theirs_and_dash_when_unknown(wb: ModuleType) -> None:
    assert wb.ratio(1.0, 4.0) == "0.25x"
    assert wb.ratio(30, 10) == "3.00x"
    assert wb.ratio(None, 4.0) == "-"
    assert wb.ratio(1.0, None) == "-"
    assert wb.ratio(1.0, 0) == "-"


def test_tables_pair_each_step_that_both_tools_ran(wb: ModuleType) -> None:
    mib = 1 << 20
    steps = [
        wb.Step("full", "T4O", 8.0, 100 * mib, 50 * mib, "2 VMs"),
        wb.Step("full", "cinder-backup", 16.0, 1024 * mib, 200 * mib),
        wb.Step("full", "qemu-img convert", 1.0, None, 640 * mib),
        wb.Step("restore", "T4O", 30.0, 60 * mib, None),
        wb.Step("restore", "cinder-backup", 10.0, 200 * mib, None),
        wb.Step("incremental", "T4O", 2.0, 10 * mib, 5 * mib),
    ]
    rows = wb.steps_table(steps).splitlines()
    assert len(rows) == 2 + len(steps)
    assert rows[2] == "| full | T4O | 8.0 s | 100.0 MiB | 50.0 MiB | 2 VMs |"
    assert rows[4] == "| full | qemu-img convert | 1.0 s | - | 640.0 MiB |  |"

    ratios = wb.ratios_table(steps, "T4O", "cinder-backup").splitlines()
    # incremental has no cinder-backup row and qemu-img is not a side of the comparison
    assert ratios[2:] == [
        "| full | 0.50x | 0.10x | 0.25x |",
        "| restore | 3.00x | 0.30x | - |",
    ]
