"""t4o.workloads.mounts and t4o.db.mount_api on a real SQLite database, with a stub cloud and the stub
datamover (tests/stubs/stub_datamover.py) in place of datamover-api: mount and dismount rules, the
serials, delete and retention refusals, and workloadmgr-cron's sweep (idle expiry, a lost mount, mounts
left half-way, two sweepers)."""

from __future__ import annotations

import datetime as dt
import re
import threading
import uuid
from typing import Any

import pytest

from t4o.common import errors
from t4o.common.context import RequestContext
from t4o.cron import retention as retention_run
from t4o.db import api as db
from t4o.db import mount_api
from t4o.db.models import utcnow
from t4o.openstack.cloud import Cloud, Server
from t4o.policies.jobschedule import RETAIN_COUNT, JobSchedule
from t4o.workloads import mounts
from tests.stubs.stub_datamover import StubDatamover, recorded_snapshot

P1, P2 = "p1", "p2"
VAULT = "/srv/t4o-vault"


class FakeCloud(Cloud):
    """Servers per project with their Nova status."""

    def __init__(self, servers: dict[str, dict[str, str]]) -> None:
        self.servers = servers  # project -> {server id: status}

    @classmethod
    def from_conf(cls, conf: Any) -> FakeCloud:
        raise NotImplementedError

    def find_servers(self, context: RequestContext, server_ids: list[str]) -> dict[str, Server | None]:
        mine = self.servers.get(context.project_id or "", {})
        return {
            sid: Server(sid, "rescue", context.project_id or "", mine[sid]) if sid in mine else None
            for sid in server_ids
        }

    def server_definition(self, context: RequestContext, server_id: str) -> dict[str, Any]:
        raise NotImplementedError


def ctx(project: str = P1, user: str = "alice", admin: bool = False) -> RequestContext:
    roles = ["admin", "member"] if admin else ["member"]
    return RequestContext(user_id=user, project_id=project, roles=roles, is_admin=admin, overwrite=False)


def vm() -> str:
    return str(uuid.uuid4())


class Env:
    def __init__(self, conf: Any) -> None:
        self.conf = conf
        self.rescue, self.stopped, self.theirs = vm(), vm(), vm()
        self.cloud = FakeCloud(
            {P1: {self.rescue: "ACTIVE", self.stopped: "SHUTOFF"}, P2: {self.theirs: "ACTIVE"}}
        )
        self.dm = StubDatamover(
            {self.rescue: "compute-1", self.stopped: "compute-1", self.theirs: "compute-2"}
        )
        self.mounts = mounts.SnapshotMounts(cloud=self.cloud, datamover=lambda: self.dm, conf=conf)


@pytest.fixture
def env(t4o_conf: Any) -> Env:
    from t4o.vault import target

    target.register_opts(t4o_conf)
    t4o_conf.set_override("url", VAULT, group="backup_target")
    t4o_conf.set_override("auth_strategy", "noauth")
    return Env(t4o_conf)


def test_serials_name_the_disk_and_the_mount_and_stay_unique() -> None:
    mount_id = "1a2b3c4d-0000-4000-8000-000000000000"
    disks = [
        {"vm_id": "a", "disk": "vda", "ref": "s/a-vda"},
        {"vm_id": "a", "disk": "vdb", "ref": "s/a-vdb"},
        {"vm_id": "b", "disk": "vda", "ref": "s/b-vda"},
        {"vm_id": "b", "disk": "sda_very_long.name", "ref": "s/b-x"},
    ]
    serials = [d["serial"] for d in mounts.with_serials(disks, mount_id)]
    assert serials == ["vda-1a2b3c4d", "vdb-1a2b3c4d", "vda-1a2b3c4d-1", "sdaverylong-1a2b3c4d"]
    many = [d["serial"] for d in mounts.with_serials([{"disk": "vda"}] * 150, mount_id)]
    assert many[:2] == ["vda-1a2b3c4d", "vda-1a2b3c4d-1"] and many[-1] == "vda-1a2b3c4d-149"
    assert len(set(many)) == 150
    long = [d["serial"] for d in mounts.with_serials([{"disk": "sdaverylongname"}] * 2, mount_id)]
    assert long == ["sdaverylong-1a2b3c4d", "sdaverylo-1a2b3c4d-1"]
    assert all(len(s) <= 20 and re.fullmatch(r"[A-Za-z0-9-]+", s) for s in serials + many + long)


def test_mount_attaches_every_disk_with_the_transfer_vault_spec(env: Env) -> None:
    a, b = vm(), vm()
    snap = recorded_snapshot(P1, {a: ["vda", "vdb"], b: ["vda"]}, name="nightly")
    row, name = env.mounts.mount(ctx(), snap.id, env.rescue)
    assert name == "nightly"
    assert (row.status, row.host, row.mount_vm_id, row.snapshot_id) == (
        "mounted",
        "compute-1",
        env.rescue,
        snap.id,
    )
    assert row.active_snapshot_id == snap.id and row.mounted_at is not None and row.user_id == "alice"
    short = row.id.replace("-", "")[:8]
    # The snapshot lists its VMs by name; each VM's disks in its order; devices in the order attached.
    order = sorted([(a, ["vda", "vdb"]), (b, ["vda"])], key=lambda item: f"name-{item[0][:6]}")
    expected = [(v, t) for v, targets in order for t in targets]
    serials = [f"{t}-{short}" for _, t in expected]
    serials[2 if order[0][0] == a else 1] += "-1"  # the second vda
    assert [(d["vm_id"], d["disk"], d["ref"], d["device"], d["serial"]) for d in row.disks] == [
        (v, t, f"{snap.id}/{v[:8]}-{t}", device, serial)
        for (v, t), device, serial in zip(expected, ["vdb", "vdc", "vdd"], serials, strict=True)
    ]
    # The vault as a snapshot's transfers name it: url, password, require_mount from [backup_target].
    assert env.dm.specs[row.id]["vault"] == {"url": VAULT, "password": None, "require_mount": False}
    assert mount_api.mounted_snapshot_ids([snap.id, "other"]) == {snap.id}
    listed = env.mounts.list_mounted(ctx())
    assert [(m.id, n) for m, n in listed] == [(row.id, "nightly")]
    assert env.mounts.list_mounted(ctx(P2)) == []
    expires = env.mounts.expires_at(row)
    assert expires == row.mounted_at + dt.timedelta(seconds=3600)


def test_mount_refusals(env: Env) -> None:
    snap = recorded_snapshot(P1, {vm(): ["vda"]})
    with pytest.raises(errors.NotFound):  # another project's snapshot, even with a VM of theirs
        env.mounts.mount(ctx(P2), snap.id, env.theirs)
    with pytest.raises(errors.NotFound, match=f"Recovery VM {env.theirs} not found in project p1"):
        env.mounts.mount(ctx(), snap.id, env.theirs)
    with pytest.raises(errors.Conflict, match=r"is SHUTOFF: a snapshot is attached to a running VM"):
        env.mounts.mount(ctx(), snap.id, env.stopped)
    failed = recorded_snapshot(P1, {vm(): ["vda"]}, status="error")
    with pytest.raises(errors.Conflict, match=f"Snapshot {failed.id} is error"):
        env.mounts.mount(ctx(), failed.id, env.rescue)
    assert env.dm.calls == []  # nothing reached the datamover
    first, _ = env.mounts.mount(ctx(), snap.id, env.rescue)
    with pytest.raises(errors.Conflict, match=f"already mounted \\(mount {first.id} on VM {env.rescue}"):
        env.mounts.mount(ctx(), snap.id, env.rescue)
    # An admin mounts inside the project of the URL only: no snapshot data reaches another project's VM.
    with pytest.raises(errors.NotFound):
        env.mounts.mount(ctx(P2, admin=True), snap.id, env.theirs)


def test_a_failed_mount_says_why_and_frees_the_snapshot(env: Env) -> None:
    snap = recorded_snapshot(P1, {vm(): ["vda"]})
    env.dm.fail_next("on host compute-1: qemu-nbd did not start")
    with pytest.raises(errors.Conflict, match=r"could not be mounted on VM .*: on host compute-1: qemu-nbd"):
        env.mounts.mount(ctx(), snap.id, env.rescue)
    (failed,) = [m for m in _all_mounts(snap.id)]
    assert (failed.status, failed.active_snapshot_id) == ("error", None)
    assert "qemu-nbd did not start" in (failed.error_msg or "")
    row, _ = env.mounts.mount(ctx(), snap.id, env.rescue)
    assert row.status == "mounted"


def test_dismount(env: Env) -> None:
    snap = recorded_snapshot(P1, {vm(): ["vda"]})
    with pytest.raises(errors.Conflict, match="is not mounted"):
        env.mounts.dismount(ctx(), snap.id)
    row, _ = env.mounts.mount(ctx(), snap.id, env.rescue)
    with pytest.raises(errors.NotFound):
        env.mounts.dismount(ctx(P2), snap.id)
    env.dm.fail_next("datamover-api cannot be reached: refused")
    with pytest.raises(
        errors.Conflict, match=r"Dismount of snapshot .* failed: datamover-api cannot be reached"
    ):
        env.mounts.dismount(ctx(), snap.id)
    still = mount_api.get(row.id)
    assert still.status == "mounted" and "cannot be reached" in (still.error_msg or "")
    assert env.dm.devices_of(env.rescue) == ["vdb"]
    done, _ = env.mounts.dismount(ctx(user="bob"), snap.id)
    assert (done.status, done.active_snapshot_id, done.dismount_reason) == (
        "dismounted",
        None,
        "dismounted by user bob",
    )
    assert done.dismounted_at is not None and env.dm.devices_of(env.rescue) == []
    assert mount_api.mounted_snapshot_ids([snap.id]) == set()
    # The agent lost it already: the dismount still ends the mount.
    row, _ = env.mounts.mount(ctx(), snap.id, env.rescue)
    env.dm.forget(row.id)
    assert env.mounts.dismount(ctx(), snap.id)[0].status == "dismounted"


def test_deletes_are_refused_while_mounted(env: Env) -> None:
    snap = recorded_snapshot(P1, {vm(): ["vda"]})
    row, _ = env.mounts.mount(ctx(), snap.id, env.rescue)
    with pytest.raises(errors.Conflict, match=f"mounted on VM {env.rescue} \\(mount {row.id}\\)"):
        env.mounts.refuse_if_mounted(ctx(), snapshot_id=snap.id)
    with pytest.raises(errors.Conflict, match=f"Workload {snap.workload_id} cannot be deleted"):
        env.mounts.refuse_if_mounted(ctx(), workload_id=snap.workload_id)
    env.mounts.refuse_if_mounted(ctx(P2), snapshot_id=snap.id)  # theirs: their delete answers 404
    env.mounts.dismount(ctx(), snap.id)
    env.mounts.refuse_if_mounted(ctx(), snapshot_id=snap.id)
    env.mounts.refuse_if_mounted(ctx(), workload_id=snap.workload_id)


def test_retention_keeps_a_mounted_snapshot(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    a = vm()
    wl_snap = recorded_snapshot(P1, {a: ["vda"]}, name="old")
    newer = db.snapshot_create(wl_snap.workload_id, P1, {"name": "new"})
    assert db.job_claim("snapshot", newer.id, "w") and db.job_finish("snapshot", newer.id, "available")
    row, _ = env.mounts.mount(ctx(), wl_snap.id, env.rescue)
    keep_one = JobSchedule(retention_type=RETAIN_COUNT, retention_value=1)
    now = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    with caplog.at_level("INFO"):
        assert retention_run.apply(wl_snap.workload_id, keep_one, now, vault=lambda: None, gc=False) == []
    assert (
        f"keeps snapshot {wl_snap.id} while it is mounted on VM {env.rescue} (mount {row.id})" in caplog.text
    )
    env.mounts.dismount(ctx(), wl_snap.id)
    assert retention_run.apply(wl_snap.workload_id, keep_one, now, vault=lambda: None, gc=False) == [
        wl_snap.id
    ]


def _all_mounts(snapshot_id: str) -> list[Any]:
    from sqlalchemy import select

    from t4o.db.models import SnapshotMount
    from t4o.db.session import session_scope

    with session_scope() as s:
        return list(s.scalars(select(SnapshotMount).where(SnapshotMount.snapshot_id == snapshot_id)))


def test_sweep_records_reads_and_dismounts_idle_mounts(env: Env) -> None:
    snap = recorded_snapshot(P1, {vm(): ["vda"]})
    row, _ = env.mounts.mount(ctx(), snap.id, env.rescue)
    start = row.mounted_at
    assert start is not None
    read_at = start + dt.timedelta(seconds=3000)
    env.dm.read(row.id, read_at.replace(tzinfo=dt.UTC))
    report = env.mounts.sweep(start + dt.timedelta(seconds=3599))
    assert report.used == [row.id] and report.expired == []
    assert mount_api.get(row.id).last_used_at == read_at
    # An hour after the mount, but not after the last read: it stays.
    assert env.mounts.sweep(start + dt.timedelta(seconds=3700)).expired == []
    report = env.mounts.sweep((read_at + dt.timedelta(seconds=3601)).replace(tzinfo=dt.UTC))
    assert report.expired == [row.id]
    done = mount_api.get(row.id)
    assert (done.status, done.active_snapshot_id, done.dismount_reason) == (
        "dismounted",
        None,
        "idle for 3601 s",
    )
    assert env.dm.mounts == {}


def test_sweep_mounts_again_what_the_agent_lost(env: Env) -> None:
    snap = recorded_snapshot(P1, {vm(): ["vda", "vdb"]})
    row, _ = env.mounts.mount(ctx(), snap.id, env.rescue)
    env.dm.forget(row.id)  # the agent restarted
    report = env.mounts.sweep()
    assert report.remounted == [row.id]
    again = mount_api.get(row.id)
    assert again.status == "mounted" and again.mounted_at == row.mounted_at
    assert [d["serial"] for d in env.dm.mounts[row.id]["disks"]] == [d["serial"] for d in row.disks]
    # Lost again, and the recovery VM is gone now: the mount ends in error, the snapshot free.
    env.dm.forget(row.id)
    del env.dm.servers[env.rescue]
    report = env.mounts.sweep()
    assert report.failed == [row.id]
    failed = mount_api.get(row.id)
    assert failed.status == "error" and failed.active_snapshot_id is None
    assert failed.error_msg and "no longer had this mount and mounting it again" in failed.error_msg
    assert f"Server {env.rescue} not found" in failed.error_msg


def test_sweep_settles_mounts_left_half_way(env: Env) -> None:
    s1 = recorded_snapshot(P1, {vm(): ["vda"]})
    s2 = recorded_snapshot(P1, {vm(): ["vda"]})
    left_mounting = mount_api.create(s1.id, P1, {"mount_vm_id": env.rescue, "disks": []})
    row, _ = env.mounts.mount(ctx(), s2.id, env.rescue)
    assert mount_api.transition(row.id, ["mounted"], "dismounting", dismount_reason="dismounted by user al")
    assert env.mounts.sweep().settled == []  # not old yet
    later = utcnow() + dt.timedelta(seconds=mounts.STUCK_AFTER + 1)
    report = env.mounts.sweep(later)
    assert sorted(report.settled) == sorted([left_mounting.id, row.id])
    one, two = mount_api.get(left_mounting.id), mount_api.get(row.id)
    assert (one.status, one.active_snapshot_id) == ("error", None)
    assert one.error_msg and "did not complete" in one.error_msg
    assert (two.status, two.dismount_reason) == ("dismounted", "dismounted by user al")
    assert env.dm.mounts == {}


def test_two_sweepers_dismount_an_idle_mount_once(env: Env) -> None:
    snap = recorded_snapshot(P1, {vm(): ["vda"]})
    row, _ = env.mounts.mount(ctx(), snap.id, env.rescue)
    other = mounts.SnapshotMounts(cloud=env.cloud, datamover=lambda: env.dm, conf=env.conf)
    assert row.mounted_at is not None
    two_hours_ago = row.mounted_at - dt.timedelta(seconds=7200)
    assert mount_api.transition(row.id, ["mounted"], "mounted", mounted_at=two_hours_ago)
    reports: list[Any] = []
    threads = [threading.Thread(target=lambda m=m: reports.append(m.sweep())) for m in (env.mounts, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(len(r.expired) for r in reports) == [0, 1]
    assert [c for c in env.dm.calls if c == ("dismount", row.id)] == [("dismount", row.id)]


def test_a_live_mount_is_unique_per_snapshot_in_the_database(env: Env) -> None:
    snap = recorded_snapshot(P1, {vm(): ["vda"]})
    first = mount_api.create(snap.id, P1, {"mount_vm_id": "x"})
    with pytest.raises(errors.Conflict, match=f"mount {first.id} on VM x \\(mounting\\)"):
        mount_api.create(snap.id, P1, {"mount_vm_id": "y"})
    assert mount_api.finish(first.id, "error", "test")
    second = mount_api.create(snap.id, P1, {"mount_vm_id": "y"})
    assert mount_api.live_for_snapshot(snap.id).id == second.id  # type: ignore[union-attr]
