"""The snapshot workflow removes from the vault what a worker that died mid-snapshot had committed."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from t4o.vault import backup_source, open_repository
from t4o.workloads.flows import snapshot as flow

MiB = 1 << 20


class Disk:
    path, format, size = "mem:vda", "raw", 2 * MiB

    def read(self, offset: int, length: int) -> bytes:
        return b"\x05" * length


def test_next_snapshot_removes_what_a_dead_worker_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = open_repository(str(tmp_path / "vault"))
    for sid in ("crashed", "good"):
        backup_source(repo, Disk(), "vm_vda", snapshot_id=sid, workload_id="w")
    # the dead worker's snapshot ended in error (reaped); the current one is excluded
    rows = {"error": [SimpleNamespace(id="crashed"), SimpleNamespace(id="current")]}
    monkeypatch.setattr(flow.db, "snapshot_list", lambda project, workload_id, status: rows.get(status, []))
    flow._discard_crashed(repo, "w", "current")
    assert repo.list_disks("crashed") == [] and repo.list_disks("good") == ["vm_vda"]
