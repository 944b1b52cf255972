"""Reconcile and retention's target deletes, on a real SQLite database and a real posix vault."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from t4o.cron import reconcile
from t4o.cron.clock import ManualClock
from t4o.cron.manager import CronManager
from t4o.db import api as db
from t4o.db import states
from t4o.policies import jobschedule as js
from t4o.policies import notify
from t4o.vault import ObjectLocked, Repository, open_repository
from tests.unit.cron.test_cron_manager import T0, Worker, hourly, live_snapshot_ids, make_workload


@pytest.fixture
def repo(tmp_path: Path) -> Repository:
    return open_repository(str(tmp_path / "vault"))


def written(repo: Repository, tmp_path: Path, workload_id: str, snapshot_id: str) -> None:
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\x02" * 4096)
    repo.backup_disk(disk, "vda", snapshot_id=snapshot_id, workload_id=workload_id)
    repo.put_workload(workload_id, {"id": workload_id})


def test_reconcile_reports_what_only_the_target_holds_and_deletes_nothing(
    t4o_conf: Any, repo: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wl = make_workload({})
    snap = db.snapshot_create(wl, "p1", {"name": "s"})
    db.job_claim("snapshot", snap.id, "h")
    db.job_finish("snapshot", snap.id, states.AVAILABLE)
    written(repo, tmp_path, wl, snap.id)
    written(repo, tmp_path, "wl-gone", "snap-gone")
    sent: list[tuple[str, str, dict[str, Any]]] = []
    monkeypatch.setattr(
        notify, "emit", lambda conf, ctx, job, phase, payload: sent.append((job, phase, payload))
    )

    found = reconcile.run(t4o_conf, repo)
    assert found == {"workloads": ["wl-gone"], "snapshots": ["snap-gone"]}
    assert sent == [("reconcile", "report", found)]
    assert sorted(s["snapshot_id"] for s in repo.list_snapshots()) == sorted([snap.id, "snap-gone"])

    db.workload_delete(wl, None)  # database_only: its data becomes an import candidate too
    assert reconcile.run(t4o_conf, repo) == {
        "workloads": sorted([wl, "wl-gone"]),
        "snapshots": sorted([snap.id, "snap-gone"]),
    }
    assert reconcile.run(t4o_conf, None) is None


def test_reconcile_is_a_periodic_task_unless_turned_off(t4o_conf: Any, repo: Repository) -> None:
    manager = CronManager(t4o_conf, vault=lambda: repo)
    assert manager.reconcile in [task for _, task in manager.periodic_tasks()]
    t4o_conf.set_override("reconcile_interval", 0, group="global_job_scheduler")
    assert [task for _, task in manager.periodic_tasks()] == [manager.tick]


class LockedVault:
    """The vault with one snapshot's deletion refused as an S3 object lock refuses it (unit stand-in)."""

    def __init__(self, repo: Repository, locked: set[str]) -> None:
        self.repo = repo
        self.locked = locked

    def __getattr__(self, name: str) -> Any:
        return getattr(self.repo, name)

    def delete_snapshot(self, snapshot_id: str) -> list[str]:
        if snapshot_id in self.locked:
            raise ObjectLocked(
                f"'{snapshot_id}' is under compliance retention until 2030-01-01T00:00:00+00:00"
            )
        return self.repo.delete_snapshot(snapshot_id)


def test_retention_frees_the_target_and_keeps_a_snapshot_it_cannot_delete(
    t4o_conf: Any, tmp_path: Path
) -> None:
    t4o_conf.set_override("auth_strategy", "noauth")
    clock = ManualClock(T0)
    worker = Worker(tmp_path / "vault")
    first: list[str] = []
    vault = LockedVault(worker.repo, set())
    manager = CronManager(t4o_conf, clock=clock, fire=worker, vault=lambda: vault)
    wl = make_workload(hourly(retention_policy_type=js.RETAIN_COUNT, retention_policy_value="1"))
    first += manager.tick()
    vault.locked.add(first[0])
    clock.advance(dt.timedelta(hours=1))
    second = manager.tick()
    manager.tick()  # retention: the first snapshot expired, but its deletion is refused
    row = db.snapshot_get(first[0], None)
    assert row.status == states.AVAILABLE and "until 2030-01-01" in (row.error_msg or "")
    assert sorted(live_snapshot_ids(wl)) == sorted(first + second)
    vault.locked.clear()
    manager.tick()
    assert live_snapshot_ids(wl) == second
    assert [d["snapshot_id"] for d in worker.repo.list_snapshots(wl)] == second
