"""The hooks the workloads API calls: validation, policy, quotas (real SQLite; no Keystone: noauth)."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from t4o.common import errors
from t4o.common.context import RequestContext
from t4o.db import api as db
from t4o.db import policy_api, states
from t4o.db.session import session_scope
from t4o.policies import hooks, quotas
from t4o.policies import workload_policies as wp

SERIAL = "f82ce76f-17fe-438b-aa37-7a023058e50d"
ADMIN = RequestContext(user_id="root", project_id="admin", is_admin=True, roles=["admin"], overwrite=False)
MEMBER = RequestContext(user_id="alice", project_id="p1", is_admin=False, roles=["member"], overwrite=False)
SNAPSHOTS, VOLUMES, STORAGE = (quotas.QUOTA_TYPES[i]["id"] for i in (1, 3, 4))


def vms(count: int, volumes: int = 0) -> list[dict[str, Any]]:
    """Instances as the workloads API records them, each with ``volumes`` volumes."""
    return [{"vm_id": f"vm-{i}", "vm_name": "", "volume_count": volumes} for i in range(count)]


@pytest.fixture
def conf(t4o_conf: Any) -> Any:
    t4o_conf.set_override("auth_strategy", "noauth")
    return t4o_conf


def test_create_validates_the_schedule(conf: Any) -> None:
    assert hooks.on_workload_create(MEMBER, {}, vms(1)) == {"enabled": False}
    with pytest.raises(errors.BadRequest, match=r"jobschedule\.interval must be a number of hours"):
        hooks.on_workload_create(MEMBER, {"jobschedule": {"enabled": True, "interval": "soon"}}, vms(1))


def test_create_follows_the_policy(conf: Any) -> None:
    pol = wp.create(ADMIN, {"display_name": "gold", "field_values": {"interval": "6 hr"}})
    policy_api.policy_assign(pol.id, ["p1"], [])
    body = {"jobschedule": {"enabled": True, "start_time": "02:00"}, "metadata": {"policy_id": pol.id}}
    assert hooks.on_workload_create(MEMBER, body, vms(1)) == {
        "enabled": True,
        "start_time": "02:00",
        "interval": "6 hr",
    }
    body["jobschedule"]["interval"] = "1 hr"
    with pytest.raises(errors.BadRequest, match="cannot set interval"):
        hooks.on_workload_create(MEMBER, body, vms(1))
    merged = {"enabled": False, "interval": "1 hr"}
    with pytest.raises(errors.BadRequest, match="cannot set interval"):
        hooks.on_schedule_change(MEMBER, "p1", merged, {"policy_id": pol.id})


def test_create_and_snapshot_respect_quotas(conf: Any) -> None:
    policy_api.quota_upsert("p1", quotas.QUOTA_TYPES[2]["id"], 2, 2)  # VMs
    hooks.on_workload_create(MEMBER, {}, vms(2))
    with pytest.raises(errors.Forbidden, match="may have 2 VMs; it has 0 and this request adds 3"):
        hooks.on_workload_create(MEMBER, {}, vms(3))
    policy_api.quota_upsert("p1", quotas.QUOTA_TYPES[1]["id"], 0, 0)  # Snapshots
    wid = db.workload_create(
        {"project_id": "p1", "workload_type_id": SERIAL, "status": states.AVAILABLE}, [{"vm_id": "v"}]
    ).id
    assert wid
    with pytest.raises(errors.Forbidden, match="may have 0 Snapshots"):
        hooks.on_snapshot("p1")


def workload(project: str, instances: list[dict[str, Any]]) -> str:
    values = {"project_id": project, "workload_type_id": SERIAL, "status": states.AVAILABLE}
    return db.workload_create(values, instances).id


def test_volumes_are_counted_and_limited_on_create_and_modify(conf: Any) -> None:
    policy_api.quota_upsert("p1", VOLUMES, 3, 3)
    wid = workload("p1", [{"vm_id": "a", "volume_count": 2}])
    assert policy_api.project_usage("p1")["volumes"] == 2
    with pytest.raises(errors.Forbidden, match="may have 3 Volumes; it has 2 and this request adds 2"):
        hooks.on_workload_create(MEMBER, {}, vms(1, volumes=2))
    hooks.on_workload_create(MEMBER, {}, vms(1, volumes=1))
    # Modify: only what the new instance list adds beyond the workload's own counts.
    hooks.on_instances_change("p1", wid, [{"vm_id": "a", "volume_count": 3}])
    with pytest.raises(errors.Forbidden, match="it has 2 and this request adds 2"):
        hooks.on_instances_change(
            "p1", wid, [{"vm_id": "a", "volume_count": 2}, {"vm_id": "b", "volume_count": 2}]
        )
    hooks.on_instances_change("p1", wid, [])  # removing is always allowed
    # A snapshot's captured definition refreshes the VM's count (volumes attached since).
    snap = db.snapshot_create(wid, "p1", {"user_id": "alice"})
    db.snapshot_record_vm(snap.id, {"vm_id": "a", "vm_name": "a", "definition": {"volumes": [{}, {}, {}]}})
    assert policy_api.project_usage("p1")["volumes"] == 3
    assert policy_api.workload_usage(wid) == (1, 3)


def finished_snapshot(workload_id: str, **values: Any) -> str:
    """A snapshot through its life cycle, ending available with ``values`` (sizes) as a worker records."""
    snap = db.snapshot_create(workload_id, "p1", {"user_id": "alice"})
    assert db.job_claim("snapshot", snap.id, "worker-1")
    assert db.job_finish("snapshot", snap.id, states.AVAILABLE, **values)
    return snap.id


def test_a_snapshot_is_refused_once_the_stored_bytes_reach_the_storage_quota(conf: Any) -> None:
    wid = workload("p1", [{"vm_id": "a"}])
    policy_api.quota_upsert("p1", STORAGE, 1000, 800)
    hooks.on_snapshot("p1")  # nothing stored yet
    finished_snapshot(wid, uploaded_size=999, size=10_000)
    assert policy_api.project_usage("p1")["storage"] == 999  # the vault's bytes, not the disks' size
    hooks.on_snapshot("p1")
    snap_id = finished_snapshot(wid, uploaded_size=1)
    with pytest.raises(
        errors.Forbidden,
        match="may store 1000 bytes \\(Storage quota\\); its snapshots already hold 1000 bytes",
    ):
        hooks.on_snapshot("p1")
    db.snapshot_delete(snap_id, "p1")
    hooks.on_snapshot("p1")  # deleted snapshots no longer count


def test_update_reapplies_the_policy_only_when_it_or_the_schedule_changes(conf: Any) -> None:
    gold = wp.create(ADMIN, {"display_name": "gold", "field_values": {"interval": "6 hr"}})
    silver = wp.create(ADMIN, {"display_name": "silver", "field_values": {"interval": "12 hr"}})
    for pol in (gold, silver):
        policy_api.policy_assign(pol.id, ["p1"], [])
    now = {"enabled": True, "start_time": "02:00", "interval": "6 hr"}
    meta = {"policy_id": gold.id}
    assert hooks.on_workload_update(MEMBER, "p1", now, meta, {"name": "renamed"}) is None
    moved = hooks.on_workload_update(MEMBER, "p1", now, meta, {"metadata": {"policy_id": silver.id}})
    assert moved == {"enabled": True, "start_time": "02:00", "interval": "12 hr"}
    left = hooks.on_workload_update(
        MEMBER, "p1", now, meta, {"metadata": {}, "jobschedule": {"interval": "1 hr"}}
    )
    assert left == {"enabled": True, "start_time": "02:00", "interval": "1 hr"}  # no policy: its own schedule
    with pytest.raises(errors.BadRequest, match="cannot set interval"):
        hooks.on_workload_update(MEMBER, "p1", now, meta, {"jobschedule": {"interval": "1 hr"}})


def test_the_guarded_check_refuses_inside_the_insert_and_keeps_nothing(conf: Any) -> None:
    """The check the database runs in the insert's transaction: a 403 there rolls the insert back."""
    policy_api.quota_upsert("p1", quotas.QUOTA_TYPES[0]["id"], 1, 1)
    values = {"project_id": "p1", "workload_type_id": SERIAL, "status": states.AVAILABLE}
    db.workload_create({**values, "name": "one"}, vms(1), lambda s: hooks.on_workload_insert("p1", vms(1), s))
    other_vm = [{"vm_id": "vm-other", "vm_name": ""}]
    with pytest.raises(errors.Forbidden, match="may have 1 Workloads; it has 1 and this request adds 1"):
        db.workload_create(
            {**values, "name": "two"}, other_vm, lambda s: hooks.on_workload_insert("p1", other_vm, s)
        )
    assert [w.name for w in db.workload_list("p1")] == ["one"]


def test_the_quota_lock_holds_sqlite_writers_until_the_transaction_ends(conf: Any) -> None:
    """SQLite has no row locks: the quota lock is its write lock, taken by the check itself."""
    policy_api.quota_upsert("p1", SNAPSHOTS, 5, 5)
    url = conf.database.connection
    other = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=0.1)
    try:
        with session_scope() as s:
            hooks.on_snapshot("p1", s)
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                other.execute("UPDATE project_quotas SET allowed_value = 6")
        other.execute("UPDATE project_quotas SET allowed_value = 6")  # free once committed
        other.commit()
    finally:
        other.close()
