"""The backup targets' capacity beside the storage usage, through a real ``t4o all-in-one`` whose targets are
directories of the test: total and free bytes as ``statvfs`` gives them, and stored bytes that agree with
the projects' rows and with each project's Storage quota usage; with several targets, one entry each and
each workload's bytes on its own target."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from t4o.api import spec
from tests.fixtures.control_plane import ControlPlane, admin, member

STORAGE_QUOTA = "5c5d3f9e-5f7b-4a55-9a3e-1d0e6c8a0005"
FREE_SLACK = 256 * 2**20  # other processes of the machine may write to the same filesystem meanwhile


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("target") / "vault"


@pytest.fixture(scope="module")
def cp(tmp_path_factory: pytest.TempPathFactory, target: Path) -> Iterator[ControlPlane]:
    target.mkdir()
    plane = ControlPlane(tmp_path_factory.mktemp("capacity"), {"backup_target": {"url": str(target)}})
    try:
        plane.start_all_in_one()
        yield plane
    finally:
        plane.stop()


def valid(resp: Any, operation_id: str) -> Any:
    op = next(o for o in spec.OPERATIONS if o.operation_id == operation_id)
    assert resp.status_code == op.status, resp.text
    jsonschema.validate(resp.json(), op.response or {})
    return resp.json()


def snapshot(cp: ControlPlane, proj: str, wid: str, kind: str, stored: int) -> str:
    """A snapshot through the API (stub workflow, which stores nothing), then the bytes a real one would
    have stored written into its row."""
    full = "1" if kind == "full" else "0"
    resp = cp.request("POST", f"/workloads/{wid}?full={full}", proj, member(proj), json={"snapshot": {}})
    assert resp.status_code == 202, resp.text
    sid = resp.json()["snapshot"]["id"]
    assert cp.wait_job("snapshot", sid, proj, member(proj))["status"] == "available"
    with sqlite3.connect(cp.workdir / "t4o.sqlite") as db:
        db.execute(
            "UPDATE snapshots SET uploaded_size = ?, snapshot_type = ? WHERE id = ?", (stored, kind, sid)
        )
    return sid


def test_posix_target_capacity_and_stored_bytes(cp: ControlPlane, target: Path) -> None:
    proj = "p" + uuid.uuid4().hex[:10]
    vms = cp.add_servers(proj, 1)
    body = {"workload": {"name": "cap", "instances": [{"instance-id": v} for v in vms]}}
    wid = cp.request("POST", "/workloads", proj, member(proj), json=body).json()["workload"]["id"]
    snapshot(cp, proj, wid, "full", 3 * 2**20)
    snapshot(cp, proj, wid, "incremental", 2**20 + 7)

    assert cp.request("GET", "/workloads/metrics/storage_usage", proj, member(proj)).status_code == 403
    usage = valid(
        cp.request("GET", "/workloads/metrics/storage_usage", proj, admin(proj)), "getMetricsStorageUsage"
    )
    st = os.statvfs(target)
    (tgt,) = usage["backup_targets"]
    assert (tgt["type"], tgt["url"], tgt["default"], tgt["reason"]) == ("posix", str(target), True, None)
    assert tgt["total_bytes"] == st.f_blocks * st.f_frsize
    assert abs(tgt["free_bytes"] - st.f_bavail * st.f_frsize) <= FREE_SLACK
    assert 0 < tgt["free_bytes"] <= tgt["total_bytes"]
    assert os.path.ismount(tgt["mount_point"]) and str(target).startswith(tgt["mount_point"])

    (mine,) = [r for r in usage["storage_usage"] if r["project_id"] == proj]
    assert (mine["snapshots"], mine["stored_bytes"]) == (2, 4 * 2**20 + 7)
    assert (mine["full_stored_bytes"], mine["incremental_stored_bytes"]) == (3 * 2**20, 2**20 + 7)
    assert tgt["stored_bytes"] == sum(r["stored_bytes"] for r in usage["storage_usage"])

    # The project's Storage quota counts the same bytes.
    quota = {"allowed_quotas": [{"quota_type_id": STORAGE_QUOTA, "allowed_value": 2**40}]}
    resp = cp.request("POST", f"/project_allowed_quotas/{proj}", proj, admin(proj), json=quota)
    assert resp.status_code == 200, resp.text
    quotas = cp.request("GET", f"/project_allowed_quotas/{proj}", proj, admin(proj)).json()["allowed_quotas"]
    (storage,) = [q for q in quotas if q["quota_type_id"] == STORAGE_QUOTA]
    assert storage["usage"] == mine["stored_bytes"]

    # The whole metrics carry the same target; the partial paths that need no target do not read it.
    whole = valid(cp.request("GET", "/t4o_metrics", proj, admin(proj)), "getMetrics")["metrics"]
    (again,) = whole["backup_targets"]
    assert again["total_bytes"] == tgt["total_bytes"] and again["stored_bytes"] == tgt["stored_bytes"]
    assert "backup_targets" not in cp.request("GET", "/workloads/metrics/nodes", proj, admin(proj)).json()


# ---------------------------------------------------------------- several targets
@pytest.fixture(scope="module")
def multi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ControlPlane, Path]]:
    """Its own control plane (targets are cloud-wide); yields it and a directory for targets and mounts."""
    base = tmp_path_factory.mktemp("targets")
    (base / "configured").mkdir()
    (base / "mnt").mkdir()
    options = {
        "backup_target": {"url": str(base / "configured")},
        "backup_targets": {"nfs_mount_point_base": str(base / "mnt")},
    }
    plane = ControlPlane(tmp_path_factory.mktemp("multi"), options)
    try:
        plane.start_all_in_one()
        yield plane, base
    finally:
        plane.stop()


def define(cp: ControlPlane, proj: str, **target: Any) -> dict[str, Any]:
    resp = cp.request("POST", "/backup_targets", proj, admin(proj), json={"backup_target": target})
    assert resp.status_code == 200, resp.text
    found: dict[str, Any] = resp.json()["backup_target"]
    return found


def workload_on(cp: ControlPlane, proj: str, target_id: str) -> str:
    vms = cp.add_servers(proj, 1)
    body = {"workload": {"name": "wl", "instances": [{"instance-id": vms[0]}], "backup_target_id": target_id}}
    resp = cp.request("POST", "/workloads", proj, member(proj), json=body)
    assert resp.status_code == 202, resp.text
    wid: str = resp.json()["workload"]["id"]
    return wid


def test_storage_usage_per_target(multi: tuple[ControlPlane, Path]) -> None:
    cp, base = multi
    proj, other = ("p" + uuid.uuid4().hex[:10] for _ in range(2))
    (base / "fast").mkdir()
    (base / "slow").mkdir()
    fast = define(cp, proj, name="a-fast", type="posix", url=str(base / "fast"))
    slow = define(cp, proj, name="b-slow", type="posix", url=str(base / "slow"))
    objects = define(cp, proj, name="c-objects", type="s3", url="s3://bkt/t4o?endpoint=http://127.0.0.1:1")
    share = define(cp, proj, name="d-share", type="nfs", url="nfs://filer.example/exports/t4o")
    Path(share["mount_point"]).mkdir()  # its mount point, with nothing mounted on it

    # Workloads of two projects on the two directories, and one left on the configured target.
    on_fast = workload_on(cp, proj, fast["id"])
    on_fast_too = workload_on(cp, other, fast["id"])
    on_slow = workload_on(cp, proj, slow["id"])
    on_config = workload_on(cp, other, "config")
    snapshot(cp, proj, on_fast, "full", 5 * 2**20)
    snapshot(cp, proj, on_fast, "incremental", 2**20 + 1)
    snapshot(cp, other, on_fast_too, "full", 3000)
    snapshot(cp, proj, on_slow, "full", 7 * 2**20)
    gone = snapshot(cp, proj, on_slow, "full", 10**9)
    snapshot(cp, other, on_config, "full", 12345)
    with sqlite3.connect(cp.workdir / "t4o.sqlite") as db:  # a deleted snapshot counts nowhere
        db.execute("UPDATE snapshots SET deleted = 1 WHERE id = ?", (gone,))

    assert cp.request("GET", "/workloads/metrics/storage_usage", proj, member(proj)).status_code == 403
    usage = valid(
        cp.request("GET", "/workloads/metrics/storage_usage", proj, admin(proj)), "getMetricsStorageUsage"
    )
    targets = {t["id"]: t for t in usage["backup_targets"]}
    assert [t["id"] for t in usage["backup_targets"]] == [
        "config", fast["id"], slow["id"], objects["id"], share["id"]
    ]  # fmt: skip

    expected = {  # id: (stored bytes, live snapshots, live workloads)
        "config": (12345, 1, 1),
        fast["id"]: (6 * 2**20 + 1 + 3000, 3, 2),
        slow["id"]: (7 * 2**20, 1, 1),
        objects["id"]: (0, 0, 0),
        share["id"]: (0, 0, 0),
    }
    for tid, (stored, snaps, workloads) in expected.items():
        t = targets[tid]
        assert (t["stored_bytes"], t["snapshots"], t["workload_count"]) == (stored, snaps, workloads), t
    # The targets add up to the projects' stored bytes (the Storage quota's usage).
    assert sum(t["stored_bytes"] for t in targets.values()) == sum(
        r["stored_bytes"] for r in usage["storage_usage"]
    )

    # Each directory reports its own filesystem; the S3 bucket and the unmounted share say why not.
    for tid, path in (
        ("config", base / "configured"),
        (fast["id"], base / "fast"),
        (slow["id"], base / "slow"),
    ):
        t, st = targets[tid], os.statvfs(path)
        assert (t["type"], t["url"], t["reason"]) == ("posix", str(path), None)
        assert t["total_bytes"] == st.f_blocks * st.f_frsize
        assert abs(t["free_bytes"] - st.f_bavail * st.f_frsize) <= FREE_SLACK
        assert os.path.ismount(t["mount_point"]) and str(path).startswith(t["mount_point"])
    assert (targets[fast["id"]]["name"], targets["config"]["name"]) == ("a-fast", "configured")
    assert targets["config"]["default"] and not targets[fast["id"]]["default"]
    s3 = targets[objects["id"]]
    assert (s3["type"], s3["url"], s3["total_bytes"], s3["free_bytes"]) == ("s3", "s3://bkt/t4o", None, None)
    assert "S3" in s3["reason"]
    nfs = targets[share["id"]]
    assert (nfs["type"], nfs["url"], nfs["total_bytes"]) == ("nfs", "nfs://filer.example/exports/t4o", None)
    assert f"filer.example:/exports/t4o is not mounted at {share['mount_point']}" in nfs["reason"]

    # The whole metrics carry the same entries.
    whole = valid(cp.request("GET", "/t4o_metrics", proj, admin(proj)), "getMetrics")["metrics"]
    assert [(t["id"], t["stored_bytes"]) for t in whole["backup_targets"]] == [
        (t["id"], t["stored_bytes"]) for t in usage["backup_targets"]
    ]
