"""CronManager on a real SQLite database and a real posix vault, with a simulated clock.

The worker side is the single stand-in here: ``fire`` queues the snapshot with the same database call
the workloads API uses, then runs it at once by writing a small disk to the vault and finishing the job.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from t4o.common import errors
from t4o.cron.clock import ManualClock
from t4o.cron.manager import CronManager
from t4o.db import api as db
from t4o.db import policy_api, states
from t4o.db import policy_models as pm
from t4o.db.models import Snapshot
from t4o.db.session import session_scope
from t4o.policies import global_scheduler, notify, quotas
from t4o.policies import jobschedule as js
from t4o.vault import open_repository

SERIAL = "f82ce76f-17fe-438b-aa37-7a023058e50d"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class Worker:
    """Queues like WorkloadAPI.snapshot_workload, then completes the job into the vault."""

    def __init__(self, vault_dir: Path, complete: bool = True) -> None:
        self.repo = open_repository(str(vault_dir))
        self.disk = vault_dir.parent / "disk.raw"
        self.disk.write_bytes(b"\x01" * 4096)
        self.complete = complete
        self.calls: list[tuple[str, bool]] = []

    def __call__(self, ctx: Any, workload_id: str, body: dict[str, Any], full: bool) -> Any:
        snap = db.snapshot_create(
            workload_id,
            ctx.project_id,
            {
                "user_id": ctx.user_id or "",
                "name": body["name"],
                "snapshot_type": "full" if full else "incremental",
            },
        )
        self.calls.append((snap.id, full))
        if self.complete:
            assert db.job_claim("snapshot", snap.id, "worker-1")
            self.repo.backup_disk(self.disk, "vda", snapshot_id=snap.id, workload_id=workload_id)
            assert db.job_finish("snapshot", snap.id, states.AVAILABLE)
        return snap


def make_workload(schedule: dict[str, Any]) -> str:
    values = {
        "project_id": "p1",
        "user_id": "alice",
        "workload_type_id": SERIAL,
        "status": states.AVAILABLE,
        "name": "w",
        "jobschedule": schedule,
    }
    return db.workload_create(values, [{"vm_id": f"vm-{len(db.workload_list(None))}", "vm_name": "vm"}]).id


def hourly(**kw: Any) -> dict[str, Any]:
    return {"enabled": True, "start_date": "01/01/2026", "start_time": "12:00 AM", "interval": "1 hr", **kw}


@pytest.fixture
def cron(t4o_conf: Any, tmp_path: Path) -> tuple[CronManager, ManualClock, Worker]:
    t4o_conf.set_override("auth_strategy", "noauth")  # no Keystone here: jobs run without a trust
    clock = ManualClock(T0)
    worker = Worker(tmp_path / "vault")
    return CronManager(t4o_conf, clock=clock, fire=worker, vault=lambda: worker.repo), clock, worker


def live_snapshot_ids(workload_id: str) -> list[str]:
    return [r["id"] for r in policy_api.snapshot_rows(workload_id)]


def test_three_days_hourly_gives_72_snapshots_every_fifth_full_and_retention(cron: Any) -> None:
    manager, clock, worker = cron
    wl = make_workload(
        hourly(fullbackup_interval="4", retention_policy_type=js.RETAIN_COUNT, retention_policy_value="5")
    )
    while clock.now() < T0 + dt.timedelta(days=3):
        manager.tick()
        clock.advance(dt.timedelta(minutes=10))
    clock.advance(dt.timedelta(minutes=-1))
    manager.tick()  # 71:59, no run due: retention after the last snapshot

    assert len(worker.calls) == 72
    assert [full for _, full in worker.calls] == [i % 5 == 0 for i in range(72)]
    runs = policy_api.run_list(wl)
    assert [r.scheduled_time for r in runs] == [
        (T0 + dt.timedelta(hours=h)).replace(tzinfo=None) for h in range(72)
    ]
    assert {r.status for r in runs} == {pm.RUN_COMPLETED}
    with session_scope() as s:
        assert s.query(Snapshot).filter(Snapshot.workload_id == wl).count() == 72
    newest = [sid for sid, _ in worker.calls[-5:]]
    assert live_snapshot_ids(wl) == newest
    assert sorted(d["snapshot_id"] for d in worker.repo.list_snapshots(wl)) == sorted(newest)


def test_a_restart_neither_misses_nor_doubles_a_run(cron: Any, t4o_conf: Any) -> None:
    manager, clock, worker = cron
    wl = make_workload(hourly())
    clock.advance(dt.timedelta(minutes=1))
    assert len(manager.tick()) == 1
    # A new process (after a crash) at the same moment: the run is already claimed in the database.
    again = CronManager(t4o_conf, clock=clock, fire=worker, vault=lambda: worker.repo)
    assert again.tick() == []
    # Down over the next run, back within the grace time: the run fires late, once.
    clock.advance(dt.timedelta(hours=1, minutes=5))
    assert len(again.tick()) == 1 and again.tick() == []
    # Down for longer than misfire_grace_time (600 s): the run is recorded as missed, not fired.
    clock.advance(dt.timedelta(hours=1, minutes=30))
    assert again.tick() == []
    statuses = [(r.scheduled_time.hour, r.status) for r in policy_api.run_list(wl)]
    assert statuses == [(0, pm.RUN_COMPLETED), (1, pm.RUN_COMPLETED), (2, pm.RUN_MISSED)]
    assert len(worker.calls) == 2


def test_two_cron_processes_fire_a_run_once(cron: Any, t4o_conf: Any) -> None:
    manager, clock, worker = cron
    other = CronManager(t4o_conf, clock=clock, fire=worker, vault=lambda: worker.repo)
    wls = [make_workload(hourly()) for _ in range(3)]
    fired = manager.tick() + other.tick()
    assert len(fired) == 3 and len(worker.calls) == 3
    assert sorted(len(policy_api.run_list(w)) for w in wls) == [1, 1, 1]


def test_global_switch_and_pause_stop_firing(cron: Any) -> None:
    manager, _, _ = cron
    wl = make_workload(hourly())
    global_scheduler.set_enabled(False)
    assert manager.tick() == []
    global_scheduler.set_enabled(True)
    db.workload_set_schedule_enabled(wl, None, False)
    assert manager.tick() == []
    db.workload_set_schedule_enabled(wl, None, True)
    assert len(manager.tick()) == 1


def test_a_busy_workload_skips_the_run(t4o_conf: Any, tmp_path: Path) -> None:
    t4o_conf.set_override("auth_strategy", "noauth")
    clock = ManualClock(T0)
    worker = Worker(tmp_path / "vault", complete=False)
    manager = CronManager(t4o_conf, clock=clock, fire=worker, vault=lambda: worker.repo)
    wl = make_workload(hourly())
    assert len(manager.tick()) == 1  # stays queued: the workload is locked
    clock.advance(dt.timedelta(hours=1))
    assert manager.tick() == []
    runs = policy_api.run_list(wl)
    assert [r.status for r in runs] == [pm.RUN_FIRED, pm.RUN_SKIPPED]
    assert "a job of it runs" in runs[1].message


def test_a_failing_fire_is_recorded(cron: Any, t4o_conf: Any) -> None:
    _, clock, worker = cron

    def refuse(*_: Any) -> Any:
        raise errors.Forbidden("The trust of workload owner alice was revoked.")

    manager = CronManager(t4o_conf, clock=clock, fire=refuse, vault=lambda: worker.repo)
    wl = make_workload(hourly())
    assert manager.tick() == []
    (run,) = policy_api.run_list(wl)
    assert (run.status, run.message) == (pm.RUN_FAILED, "The trust of workload owner alice was revoked.")


def test_a_scheduled_snapshot_beyond_the_quota_is_a_failed_run(cron: Any, t4o_conf: Any) -> None:
    _, clock, worker = cron
    # The real path of a user's snapshot (WorkloadAPI.snapshot_workload), which checks the quotas first.
    manager = CronManager(t4o_conf, clock=clock, vault=lambda: worker.repo)
    policy_api.quota_upsert("p1", quotas.QUOTA_TYPES[1]["id"], 0, 0)  # Snapshots
    wl = make_workload(hourly())
    assert manager.tick() == []
    (run,) = policy_api.run_list(wl)
    assert run.status == pm.RUN_FAILED and run.snapshot_id is None
    assert run.message == "Quota exceeded: project p1 may have 0 Snapshots; it has 0 and this request adds 1."


def test_retention_keeps_mounted_snapshots(cron: Any) -> None:
    manager, clock, worker = cron
    wl = make_workload(hourly(retention_policy_type=js.RETAIN_COUNT, retention_policy_value="1"))
    manager.tick()
    first = worker.calls[0][0]
    with session_scope() as s:
        s.get(Snapshot, first).metadata_ = {"mounted": True}
    for _ in range(3):
        clock.advance(dt.timedelta(hours=1))
        manager.tick()
    manager.tick()
    assert live_snapshot_ids(wl) == [first, worker.calls[-1][0]]


def test_with_keystone_a_run_without_a_trust_fails_clearly(cron: Any, t4o_conf: Any) -> None:
    manager, _, worker = cron
    t4o_conf.set_override("auth_strategy", "keystone")
    wl = make_workload(hourly())
    assert manager.tick() == []
    (run,) = policy_api.run_list(wl)
    assert run.status == pm.RUN_FAILED
    assert run.message == (
        f"Workload {wl} has no trust from its owner alice: the owner must set its schedule again "
        "to give T4O a trust."
    )
    assert worker.calls == []


def test_start_and_end_of_scheduled_snapshots_are_notified_once(
    cron: Any, t4o_conf: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager, clock, worker = cron
    sent: list[tuple[str, str, dict[str, Any]]] = []
    monkeypatch.setattr(
        notify,
        "emit",
        lambda conf, ctx, job, phase, payload, settings=None: sent.append((job, phase, payload)),
    )
    other = CronManager(t4o_conf, clock=clock, fire=worker, vault=lambda: worker.repo)
    wl = make_workload(hourly())
    (snap_id,) = manager.tick()
    other.tick()
    manager.tick()
    phases = [(job, phase, p["snapshot_id"]) for job, phase, p in sent]
    assert phases == [("scheduled_snapshot", "start", snap_id), ("scheduled_snapshot", "end", snap_id)]
    assert sent[1][2]["status"] == "available" and sent[1][2]["workload_id"] == wl
    # A snapshot that ends in error is reported as an error, with its message.
    worker.complete = False
    clock.advance(dt.timedelta(hours=1))
    (failed,) = manager.tick()
    db.job_claim("snapshot", failed, "worker-1")
    db.job_finish("snapshot", failed, states.ERROR, error_msg="disk vda could not be read")
    manager.tick()
    assert sent[-1][1] == "error" and sent[-1][2]["error"] == "disk vda could not be read"
    assert [r.status for r in policy_api.run_list(wl)] == [pm.RUN_COMPLETED, pm.RUN_ERROR]
