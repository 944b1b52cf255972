"""The file recovery benchmark's verdicts, and a tiny run of it (mke2fs, debugfs, nbdfuse)."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.fixtures.bench_scripts import load_bench

pytestmark = pytest.mark.unit

MiB = 1 << 20


@pytest.fixture(scope="module")
def fb() -> ModuleType:
    return load_bench("file_recovery_bench")


def figures(cold: float, ratio: float, path_s: float, chunks: int, snapshots: int = 30) -> dict[str, Any]:
    return {
        "listing": {"cold_s": cold, "warm_s": 0.01},
        "download": {"download_vs_restore": ratio, "download_mib_s": 100, "restore_mib_s": 150},
        "search": {
            "path": {"snapshots": snapshots, "total_s": path_s},
            "glob": {"snapshots": snapshots, "total_s": 20.0},
        },
        "one_mib": {
            "file_chunks_fetched": chunks,
            "file_bytes_fetched": chunks * MiB,
            "disk_stored_blocks": 1100,
        },
    }


def test_each_goal_is_met_below_its_limit_and_missed_above(fb: ModuleType) -> None:
    met = fb.goals(figures(cold=1.9, ratio=0.5, path_s=59.0, chunks=4))
    assert [ok for _, _, ok in met] == [True, True, True, True, True, True]
    missed = fb.goals(figures(cold=2.1, ratio=0.49, path_s=61.0, chunks=5))
    assert [ok for _, _, ok in missed] == [False, True, False, False, True, False]
    assert missed[3][0] == "search a path across 30 snapshots < 60 s"


def test_the_search_goal_scales_with_the_number_of_snapshots(fb: ModuleType) -> None:
    names = [name for name, _, _ in fb.goals(figures(1.0, 1.0, 5.0, 2, snapshots=3))]
    assert "search a path across 3 snapshots < 6 s" in names


def test_a_tiny_run_measures_every_goal_on_what_it_wrote(fb: ModuleType, tmp_path: Path, capsys: Any) -> None:
    for tool in ("mke2fs", "debugfs", "nbdfuse", "fusermount3"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    if not Path("/dev/fuse").exists():
        pytest.skip("no /dev/fuse")
    out = tmp_path / "figures.json"
    # a short work directory: the NBD sockets in it need a path of at most 107 bytes, which tmp_path
    # (under a pytest-xdist worker's folder) may exceed
    work = Path(tempfile.mkdtemp(prefix="frb-"))
    argv = ["--disk-size", "64M", "--big-file", "3M", "--small-files", "25", "--snapshots", "3"]
    argv += ["--runs", "1", "--json", str(out), "--workdir", str(work)]
    try:
        assert fb.main(argv) == 0
        left = list(work.glob("t4o-fr-bench-*"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    printed = capsys.readouterr().out
    assert "| list the root, cold |" in printed and "search a glob across 3 snapshots" in printed
    r = json.loads(out.read_text())
    assert r["params"] == {
        "disk_size": 64 * MiB,
        "big_file": 3 * MiB,
        "small_files": 25,
        "snapshots": 3,
        "runs": 1,
    }
    assert r["build"]["incrementals"] == 2
    assert r["listing"]["entries"] == 3  # data, lost+found, srv
    assert r["listing"]["warm_s"] > 0 and r["listing"]["cold_s"] > 0
    assert set(r["listing"]["cold_phases_s"]) == {
        "vault_open",
        "nbd_export",
        "fuse_and_filesystem",
        "first_listing",
    }
    dl = r["download"]
    assert dl["file_bytes"] == 3 * MiB and dl["download_s"] > 0 and dl["restore_s"] > 0
    # the 3 MiB random file is stored in 3 or 4 chunks of 1 MiB, and all of them are fetched
    assert 3 <= dl["download_chunks_fetched"] <= dl["disk_data_bytes"] // MiB
    # files 0, 10 and 20 are the .conf ones; the state file is found once in each snapshot
    assert r["search"]["path"]["matches"] == 3 and r["search"]["glob"]["matches"] == 3 * 3
    one = r["one_mib"]
    assert 1 <= one["file_chunks_fetched"] <= 4 and one["file_bytes_fetched"] > 0
    assert one["total_chunks_fetched"] == one["open_chunks_fetched"] + one["file_chunks_fetched"]
    assert all(isinstance(g["met"], bool) for g in r["goals"])
    assert len(r["goals"]) == 6
    assert not left, "the work directory is left behind"
