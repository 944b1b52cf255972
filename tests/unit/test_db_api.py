"""t4o.db.api on a real SQLite file: atomic state changes of workloads and jobs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from t4o.common import errors
from t4o.db import api as db
from t4o.db import states
from t4o.db.models import utcnow

SERIAL = "f82ce76f-17fe-438b-aa37-7a023058e50d"


def make_workload(project: str = "p1", vms: tuple[str, ...] = ("vm-1",)) -> Any:
    values = {"project_id": project, "workload_type_id": SERIAL, "status": states.AVAILABLE, "name": "w"}
    return db.workload_create(values, [{"vm_id": v, "vm_name": v} for v in vms])


def test_seeded_workload_types(t4o_conf: Any) -> None:
    assert {t.name for t in db.workload_type_list()} == {"Serial", "Parallel"}
    with pytest.raises(errors.NotFound):
        db.workload_type_get("nope")


def test_a_vm_belongs_to_one_workload(t4o_conf: Any) -> None:
    wl = make_workload(vms=("a", "b"))
    assert db.vm_owners(["a", "b", "c"]) == {"a": wl.id, "b": wl.id}
    with pytest.raises(errors.BadRequest):
        make_workload(vms=("b",))
    db.workload_update(wl.id, "p1", {}, [{"vm_id": "c"}])
    assert db.vm_owners(["a", "b", "c"]) == {"c": wl.id}
    make_workload(vms=("a",))  # freed by the update


def test_other_projects_see_nothing(t4o_conf: Any) -> None:
    wl = make_workload()
    with pytest.raises(errors.NotFound):
        db.workload_get(wl.id, "p2")
    assert db.workload_list("p2") == []
    assert [w.id for w in db.workload_list(None)] == [wl.id]
    with pytest.raises(errors.NotFound):
        db.snapshot_create(wl.id, "p2", {})


def test_snapshot_locks_the_workload_until_it_finishes(t4o_conf: Any) -> None:
    wl = make_workload()
    snap = db.snapshot_create(wl.id, "p1", {"name": "s"})
    assert snap.status == states.QUEUED
    assert db.workload_get(wl.id, "p1").status == states.LOCKED
    with pytest.raises(errors.Conflict):
        db.snapshot_create(wl.id, "p1", {})
    with pytest.raises(errors.Conflict):
        db.workload_update(wl.id, "p1", {"name": "x"}, None)
    with pytest.raises(errors.Conflict):
        db.workload_delete(wl.id, "p1")
    with pytest.raises(errors.Conflict):
        db.snapshot_delete(snap.id, "p1")
    assert db.job_set_host("snapshot", snap.id, "h1")
    assert db.job_claim("snapshot", snap.id, "h1")
    assert not db.job_claim("snapshot", snap.id, "h2")  # claimed once only
    assert db.job_progress("snapshot", snap.id, 150, "half") == states.EXECUTING
    assert db.job_get("snapshot", snap.id).progress_percent == 100  # clamped
    assert db.job_finish("snapshot", snap.id, states.AVAILABLE, size=42)
    assert not db.job_finish("snapshot", snap.id, states.ERROR)  # already resolved
    done = db.snapshot_get(snap.id, "p1")
    assert done.status == states.AVAILABLE and done.size == 42 and done.finished_at is not None
    assert db.workload_get(wl.id, "p1").status == states.AVAILABLE
    assert db.storage_usage([wl.id])[wl.id]["full"] == {"snap_count": 1, "usage": 42}


def test_cancel_queued_and_running(t4o_conf: Any) -> None:
    wl = make_workload()
    snap = db.snapshot_create(wl.id, "p1", {})
    assert db.job_cancel("snapshot", snap.id, "p1").status == states.CANCELLED
    assert db.workload_get(wl.id, None).status == states.AVAILABLE
    assert not db.job_claim("snapshot", snap.id, "h1")
    snap = db.snapshot_create(wl.id, "p1", {})
    db.job_claim("snapshot", snap.id, "h1")
    assert db.job_cancel("snapshot", snap.id, "p1").status == states.CANCELLING
    assert db.job_progress("snapshot", snap.id, 50, "x") == states.CANCELLING
    db.job_finish("snapshot", snap.id, states.CANCELLED)
    with pytest.raises(errors.Conflict):
        db.job_cancel("snapshot", snap.id, "p1")
    with pytest.raises(errors.NotFound):
        db.job_cancel("snapshot", snap.id, "p2")


def test_reset_and_dead_hosts_resolve_jobs(t4o_conf: Any) -> None:
    wl = make_workload()
    snap = db.snapshot_create(wl.id, "p1", {})
    db.job_claim("snapshot", snap.id, "h1")
    wl2, count = db.workload_reset(wl.id, "p1", "reset by test")
    assert count == 1 and wl2.status == states.AVAILABLE
    assert db.snapshot_get(snap.id, None).error_msg == "reset by test"
    # a worker that still runs it notices on its next progress report
    assert db.job_progress("snapshot", snap.id, 60, "x") == states.ERROR
    snap = db.snapshot_create(wl.id, "p1", {})
    db.job_claim("snapshot", snap.id, "h2")
    assert db.jobs_fail_on_hosts(["h2"], "gone") == 1
    assert db.snapshot_get(snap.id, None).status == states.ERROR
    assert db.workload_get(wl.id, None).status == states.AVAILABLE


def test_restore_needs_an_available_snapshot_and_a_free_workload(t4o_conf: Any) -> None:
    wl = make_workload()
    snap = db.snapshot_create(wl.id, "p1", {})
    with pytest.raises(errors.Conflict):
        db.restore_create(snap.id, "p1", {"restore_type": "oneclick"})
    db.job_claim("snapshot", snap.id, "h")
    db.job_finish("snapshot", snap.id, states.AVAILABLE)
    restore = db.restore_create(snap.id, "p1", {"restore_type": "oneclick"})
    assert restore.status == states.QUEUED and restore.workload_id == wl.id
    with pytest.raises(errors.Conflict):
        db.restore_create(snap.id, "p1", {"restore_type": "oneclick"})
    with pytest.raises(errors.NotFound):
        db.restore_get(restore.id, "p2")
    assert [r.id for r in db.restore_list("p1", snap.id)] == [restore.id]


def test_snapshot_filters(t4o_conf: Any) -> None:
    wl = make_workload()
    snap = db.snapshot_create(wl.id, "p1", {})
    later = utcnow() + dt.timedelta(days=1)
    assert [s.id for s in db.snapshot_list("p1", workload_id=wl.id)] == [snap.id]
    assert db.snapshot_list("p1", status=states.ERROR) == []
    assert db.snapshot_list("p1", date_from=later) == []
    assert [s.id for s in db.snapshot_list("p1", date_to=later)] == [snap.id]


def test_settings(t4o_conf: Any) -> None:
    db.setting_upsert("p1", "u", [{"name": "a", "value": "1", "__dict__": []}], create_only=True)
    with pytest.raises(errors.Conflict):
        db.setting_upsert("p1", "u", [{"name": "a"}], create_only=True)
    db.setting_upsert("p1", "u", [{"name": "a", "value": "2"}], create_only=False)
    assert db.setting_get("p1", "a").value == "2"
    with pytest.raises(errors.NotFound):
        db.setting_get("p2", "a")
    db.setting_delete("p1", "a")
    assert db.setting_list("p1") == []


def test_service_heartbeats(t4o_conf: Any) -> None:
    db.service_heartbeat("h1", "workloadmgr-workloads", "t")
    db.service_heartbeat("h1", "workloadmgr-workloads", "t")
    live, dead = db.services_alive("t", 60)
    assert [s.host for s in live] == ["h1"] and dead == []
    live, dead = db.services_alive("t", -1)
    assert live == [] and [s.host for s in dead] == ["h1"]


def test_list_rows_render_like_the_orm_objects(t4o_conf: Any) -> None:
    from t4o.api import views

    make_workload(vms=("b", "a"))
    make_workload(project="p2", vms=("c",))
    rows = db.workload_list_rows("p1")
    objs = db.workload_list("p1")
    assert [views.workload_row(r) for r in rows] == [views.workload(o) for o in objs]
    assert [i["id"] for i in rows[0]["instances"]] == ["a", "b"]
    assert len(db.workload_list_rows(None)) == 2


def test_workload_pages_walk_every_row_once(t4o_conf: Any) -> None:
    made = [make_workload(vms=(f"vm-{i}",)).id for i in range(7)]
    make_workload(project="p2", vms=("elsewhere",))
    seen: list[str] = []
    marker = None
    while True:
        rows = db.workload_list_rows("p1", db.Page(limit=3, marker=marker))
        assert len(rows) <= 3
        assert all(len(r["instances"]) == 1 for r in rows)
        seen += [r["id"] for r in rows]
        if len(rows) < 3:
            break
        marker = rows[-1]["id"]
    assert sorted(seen) == sorted(made) and len(seen) == len(set(seen))
    # Newest first by default; ascending order is the same rows reversed.
    asc = [r["id"] for r in db.workload_list_rows("p1", db.Page(limit=100, sort_dir="asc"))]
    assert asc == list(reversed([r["id"] for r in db.workload_list_rows("p1", db.Page(limit=100))]))


def test_a_marker_of_another_project_is_bad_input(t4o_conf: Any) -> None:
    other = make_workload(project="p2", vms=("x",))
    make_workload(vms=("y",))
    with pytest.raises(errors.BadRequest, match="Marker"):
        db.workload_list_rows("p1", db.Page(limit=5, marker=other.id))
    with pytest.raises(errors.BadRequest, match="Marker"):
        db.snapshot_list("p1", page=db.Page(limit=5, marker="nope"))


def test_snapshot_and_restore_pages(t4o_conf: Any) -> None:
    wl = make_workload()
    snaps = []
    for _ in range(5):
        snap = db.snapshot_create(wl.id, "p1", {"name": "s"})
        db.job_claim("snapshot", snap.id, "h")
        db.job_finish("snapshot", snap.id, states.AVAILABLE)
        snaps.append(snap.id)
    first = db.snapshot_list("p1", page=db.Page(limit=2))
    rest = db.snapshot_list("p1", page=db.Page(limit=10, marker=first[-1].id))
    assert [s.id for s in first + rest] == list(reversed(snaps))
    by_name = db.snapshot_list("p1", workload_id=wl.id, page=db.Page(limit=10, sort_key="name"))
    assert len(by_name) == 5
    restore = db.restore_create(snaps[0], "p1", {"restore_type": "oneclick"})
    assert [r.id for r in db.restore_list("p1", page=db.Page(limit=1))] == [restore.id]
    assert db.restore_list("p1", page=db.Page(limit=1, marker=restore.id)) == []


def test_raw_json_rows_embed_the_stored_json(t4o_conf: Any) -> None:
    import orjson

    from t4o.api import views

    wl = make_workload()
    db.workload_update(wl.id, "p1", {"jobschedule": {"enabled": True, "interval": "1 hr"}}, None)
    decoded = [views.workload_row(r) for r in db.workload_list_rows("p1")]
    raw = [views.workload_row(r) for r in db.workload_list_rows("p1", raw_json=True)]
    assert isinstance(raw[0]["jobschedule"], orjson.Fragment)
    assert orjson.loads(orjson.dumps(raw)) == decoded
    assert decoded[0]["jobschedule"] == {"enabled": True, "interval": "1 hr"}


@pytest.mark.parametrize("kind", ["snapshot", "restore"])
def test_a_job_is_deleted_once_finished_only_in_its_project(t4o_conf: Any, kind: str) -> None:
    wl = make_workload()
    job = snap = db.snapshot_create(wl.id, "p1", {})
    if kind == "restore":
        db.job_claim("snapshot", snap.id, "h")
        db.job_finish("snapshot", snap.id, states.AVAILABLE)
        job = db.restore_create(snap.id, "p1", {"restore_type": "oneclick"})
    delete = db.snapshot_delete if kind == "snapshot" else db.restore_delete
    name = kind.capitalize()
    with pytest.raises(errors.Conflict, match=f"^{name} {job.id} is queued; cancel it first.$"):
        delete(job.id, "p1")
    db.job_claim(kind, job.id, "h")
    db.job_finish(kind, job.id, states.AVAILABLE)
    with pytest.raises(errors.NotFound, match=f"^{name} {job.id} not found.$"):
        delete(job.id, "p2")  # another project's job does not exist for it
    deleted = delete(job.id, "p1")
    assert deleted.deleted and deleted.status == states.AVAILABLE
    for scope in ("p1", None):
        with pytest.raises(errors.NotFound, match=f"^{name} {job.id} not found.$"):
            delete(job.id, scope)
    with pytest.raises(errors.NotFound, match=f"^{name} nope not found.$"):
        delete("nope", None)


def test_queued_jobs_nobody_holds_are_found_and_failed(t4o_conf: Any) -> None:
    wl = make_workload()
    snap = db.snapshot_create(wl.id, "p1", {})
    later = utcnow() + dt.timedelta(seconds=1)
    assert ("snapshot", snap.id, None) in db.jobs_queued_before(later)
    assert db.jobs_queued_before(utcnow() - dt.timedelta(seconds=60)) == []
    # a worker holding it for a slot refreshes it; only the host it was placed on can
    assert not db.job_waiting("snapshot", snap.id, "h1", "Waiting")
    assert db.job_set_host("snapshot", snap.id, "h1")
    assert db.job_waiting("snapshot", snap.id, "h1", "Waiting for a free job slot on h1")
    assert not db.job_waiting("snapshot", snap.id, "h2", "Waiting")
    assert db.snapshot_get(snap.id, None).progress_msg == "Waiting for a free job slot on h1"
    # refreshed after the cutoff: not failed
    assert not db.job_fail_queued("snapshot", snap.id, utcnow() - dt.timedelta(seconds=60), "lost")
    assert db.job_fail_queued("snapshot", snap.id, utcnow() + dt.timedelta(seconds=1), "lost")
    failed = db.snapshot_get(snap.id, None)
    assert failed.status == states.ERROR and failed.error_msg == "lost" and failed.finished_at
    assert db.workload_get(wl.id, None).status == states.AVAILABLE
    assert not db.job_fail_queued("snapshot", snap.id, utcnow() + dt.timedelta(seconds=1), "again")
    assert not db.job_waiting("snapshot", snap.id, "h1", "Waiting")


def test_a_mounted_snapshot_is_not_marked_deleting(t4o_conf: Any) -> None:
    from t4o.db.models import SnapshotMount
    from t4o.db.session import session_scope

    wl = make_workload()
    snap = db.snapshot_create(wl.id, "p1", {})
    db.job_claim("snapshot", snap.id, "h")
    db.job_finish("snapshot", snap.id, states.AVAILABLE)
    with session_scope() as s:  # a mount that inserted its row just before the delete marked the snapshot
        s.add(
            SnapshotMount(
                snapshot_id=snap.id, active_snapshot_id=snap.id, workload_id=wl.id, project_id="p1",
                mount_vm_id="vm-r", status="mounting",
            )
        )  # fmt: skip
    with pytest.raises(errors.Conflict, match="mounted on VM vm-r"):
        db.snapshot_mark_deleting(snap.id, "p1")
    assert db.snapshot_get(snap.id, None).status == states.AVAILABLE  # put back
    with session_scope() as s:
        s.query(SnapshotMount).update({"active_snapshot_id": None, "status": "dismounted"})
    assert db.snapshot_mark_deleting(snap.id, "p1")[1] == states.AVAILABLE
