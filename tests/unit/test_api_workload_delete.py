"""t4o.workloads.api deletes on a real SQLite database: the worker's answer (one RPC call, replaced here)
decides whether the rows go, and a refusal or failure stays on the row."""

from __future__ import annotations

import re
from typing import Any

import oslo_messaging as messaging
import pytest

from t4o.common import errors
from t4o.common.context import RequestContext
from t4o.db import api as db
from t4o.db import states
from t4o.workloads import api as workloads_api
from t4o.workloads import rpcapi

SERIAL = "f82ce76f-17fe-438b-aa37-7a023058e50d"
LOCKED = "Snapshot s is protected by an object lock on the backup target until 2030-01-01T00:00:00+00:00"


@pytest.fixture
def setup(t4o_conf: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    ctx = RequestContext(user_id="u1", project_id="p1", roles=["member"])
    wl = db.workload_create(
        {"project_id": "p1", "workload_type_id": SERIAL, "status": states.AVAILABLE}, [{"vm_id": "vm-1"}]
    )
    snap = db.snapshot_create(wl.id, "p1", {"name": "s"})
    db.job_claim("snapshot", snap.id, "h")
    db.job_finish("snapshot", snap.id, states.AVAILABLE)
    calls: list[tuple[str, list[str], bool, str]] = []
    answer: dict[str, Any] = {"deleted": [snap.id]}

    def worker(_ctx: Any, wid: str, snaps: list[str], whole: bool) -> dict[str, Any]:
        # What the rows show while the worker deletes from the target.
        status = db.workload_get(wid, None).status if whole else db.snapshot_get(snaps[0], None).status
        calls.append((wid, snaps, whole, status))
        if isinstance(answer.get("raise"), Exception):
            raise answer["raise"]
        return answer

    monkeypatch.setattr(rpcapi, "delete_from_target", worker)
    return ctx, wl.id, snap.id, calls, answer


def test_database_only_keeps_the_backup_data(setup: Any) -> None:
    ctx, wid, _snap, calls, _answer = setup
    workloads_api.WorkloadAPI().delete_workload(ctx, wid, database_only=True)
    assert calls == []
    with pytest.raises(errors.NotFound):
        db.workload_get(wid, "p1")
    assert db.snapshot_list("p1") == [] and db.vm_owners(["vm-1"]) == {}


def test_full_delete_removes_the_workload_from_the_target_first(setup: Any) -> None:
    ctx, wid, snap, calls, _answer = setup
    workloads_api.WorkloadAPI().delete_workload(ctx, wid, database_only=False)
    assert calls == [(wid, [snap], True, states.DELETING)]
    with pytest.raises(errors.NotFound):
        db.workload_get(wid, "p1")
    assert db.snapshot_list("p1") == []


@pytest.mark.parametrize(
    "answer, message",
    [
        ({"refused": LOCKED}, LOCKED),
        ({"error": "Deleting from the backup target failed: disk full"}, "disk full"),
        ({"raise": messaging.MessagingTimeout("no reply")}, "No workloads worker could delete"),
    ],
)
def test_a_refused_or_failed_workload_delete_keeps_everything(
    setup: Any, answer: dict[str, Any], message: str
) -> None:
    ctx, wid, snap, _calls, current = setup
    current.clear()
    current.update(answer)
    with pytest.raises(errors.Conflict, match=re.escape(message)):
        workloads_api.WorkloadAPI().delete_workload(ctx, wid, database_only=False)
    wl = db.workload_get(wid, "p1")
    assert wl.status == states.AVAILABLE and message in (wl.error_msg or "")
    assert [s.id for s in db.snapshot_list("p1")] == [snap]


def test_snapshot_delete_removes_it_from_the_target_then_the_row(setup: Any) -> None:
    ctx, wid, snap, calls, _answer = setup
    workloads_api.WorkloadAPI().delete_snapshot(ctx, snap)
    assert calls == [(wid, [snap], False, states.DELETING)]
    with pytest.raises(errors.NotFound):
        db.snapshot_get(snap, "p1")


def test_a_locked_snapshot_is_refused_with_its_date(setup: Any) -> None:
    ctx, _wid, snap, _calls, answer = setup
    answer.clear()
    answer["refused"] = LOCKED
    with pytest.raises(errors.Conflict, match="until 2030-01-01"):
        workloads_api.WorkloadAPI().delete_snapshot(ctx, snap)
    row = db.snapshot_get(snap, "p1")
    assert row.status == states.AVAILABLE and row.error_msg == LOCKED


def test_no_snapshot_is_deleted_while_a_job_of_its_workload_runs(setup: Any) -> None:
    """The running one, nor a finished one a restore may be reading or a snapshot building on."""
    ctx, wid, snap, calls, _answer = setup
    running = db.snapshot_create(wid, "p1", {"name": "r"})
    for snapshot_id in (running.id, snap):
        with pytest.raises(errors.Conflict, match="runs"):
            workloads_api.WorkloadAPI().delete_snapshot(ctx, snapshot_id)
    assert calls == [] and db.snapshot_get(snap, "p1").status == states.AVAILABLE


def test_a_delete_interrupted_midway_can_be_retried(setup: Any) -> None:
    """A row left deleting (the API process died) is neither stuck nor restored to a made-up status."""
    ctx, _wid, snap, calls, answer = setup
    db.snapshot_mark_deleting(snap, "p1")
    answer.clear()
    answer["error"] = "Deleting from the backup target failed: disk full"
    with pytest.raises(errors.Conflict, match="disk full"):
        workloads_api.WorkloadAPI().delete_snapshot(ctx, snap)
    assert db.snapshot_get(snap, "p1").status == states.ERROR
    answer.clear()
    answer["deleted"] = [snap]
    workloads_api.WorkloadAPI().delete_snapshot(ctx, snap)
    with pytest.raises(errors.NotFound):
        db.snapshot_get(snap, "p1")
    assert len(calls) == 2
