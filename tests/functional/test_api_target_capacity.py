"""The backup target's capacity beside the storage usage, through a real ``t4o all-in-one`` whose target is
a directory of the test: total and free bytes as ``statvfs`` gives them, and stored bytes that agree with
the projects' rows and with each project's Storage quota usage."""

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
