"""The workload benchmark's pure helpers: sizes, ratios and the two tables it prints."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from tests.fixtures.bench_scripts import load_bench

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def wb() -> ModuleType:
    return load_bench("workload_bench")


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


def test_tables_pair_each_step_that_both_sides_ran(wb: ModuleType) -> None:
    mib = 1 << 20
    steps = [
        wb.Step("full", "T4O", 8.0, 100 * mib, 50 * mib, "2 VMs"),
        wb.Step("full", "T4O volume", None, 80 * mib, 40 * mib),
        wb.Step("full", "cinder-backup", 16.0, 1024 * mib, 200 * mib),
        wb.Step("full", "qemu-img convert", 1.0, 640 * mib, 640 * mib),
        wb.Step("incremental", "T4O", 2.0, 10 * mib, 5 * mib),
        wb.Step("restore", "T4O", 30.0, 60 * mib, None),
        wb.Step("restore", "T4O volume", None, 20 * mib, None),
        wb.Step("restore", "cinder-backup", 10.0, 200 * mib, None),
    ]
    rows = wb.steps_table(steps).splitlines()
    assert len(rows) == 2 + len(steps)
    assert rows[2] == "| full | T4O | 8.0 s | 100.0 MiB | 50.0 MiB | 2 VMs |"
    assert rows[3] == "| full | T4O volume | - | 80.0 MiB | 40.0 MiB |  |"

    ratios = wb.ratios_table(steps, "T4O", "T4O volume", "cinder-backup").splitlines()
    assert ratios[0] == (
        "| step | time: T4O / cinder-backup | read: T4O volume / cinder-backup "
        "| stored: T4O volume / cinder-backup |"
    )
    # time from the whole workload's step, bytes from the volume's disk; no cinder-backup row for
    # the incremental here, so no ratio either
    assert ratios[2:] == [
        "| full | 0.50x | 0.08x | 0.20x |",
        "| restore | 3.00x | 0.10x | - |",
    ]


def test_compare_with_expected_accepts_only_missing_trailing_zeros(wb: ModuleType, tmp_path: Path) -> None:
    mib = 1 << 20
    expected = tmp_path / "expected.raw"
    expected.write_bytes(b"\x01" * mib + bytes(9 * mib))
    same = tmp_path / "same.raw"
    same.write_bytes(expected.read_bytes())
    assert wb.compare_with_expected(same, expected) == "equal to the expected bytes"

    short = tmp_path / "short.raw"  # a restore that stopped writing at the last non-zero block
    short.write_bytes(b"\x01" * mib)
    assert "ends at 1.0 MiB of 10.0 MiB" in wb.compare_with_expected(short, expected)

    changed = tmp_path / "changed.raw"
    changed.write_bytes(b"\x01" * mib + bytes(8 * mib) + b"\x02" + bytes(mib - 1))
    with pytest.raises(RuntimeError, match="differs"):
        wb.compare_with_expected(changed, expected)

    data_missing = tmp_path / "data-missing.raw"  # shorter, but what is missing is not zeros
    data_missing.write_bytes(b"\x01" * (mib // 2))
    with pytest.raises(RuntimeError, match="differs"):
        wb.compare_with_expected(data_missing, expected)
