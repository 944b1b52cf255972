"""Disaster recovery through the real API: a backup target written by T4O's own document and archive calls,
an empty database, then import, a second import, orphans and reassign (the stub cloud knows which
projects exist: those of its servers file)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from t4o.vault import Repository, open_target
from tests.fixtures.control_plane import ControlPlane, admin, member
from tests.fixtures.target_documents import Written, write_workload

LIVE, GONE, NEW = "p-live", "p-gone", "p-new"


@pytest.fixture(scope="module")
def dr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ControlPlane, Repository, list[Written]]]:
    workdir = tmp_path_factory.mktemp("dr")
    url = str(workdir / "vault")
    repo = open_target(url, create_if_missing=True)
    written = [
        write_workload(repo, LIVE, "alice", "alpha", snapshots=3),
        write_workload(repo, GONE, "bob", "beta", snapshots=1),
    ]
    # A fresh database: the control plane starts on an empty SQLite file with the target configured.
    cp = ControlPlane(workdir / "cp", {"backup_target": {"url": url}})
    cp.add_servers(LIVE, 1)
    cp.add_servers(NEW, 1)
    try:
        cp.start_all_in_one()
        yield cp, repo, written
    finally:
        cp.stop()


def _ts(value: Any) -> str:
    return value.isoformat()


def assert_api_matches(cp: ControlPlane, written: Written, project: str, user: str) -> None:
    wl = written.workload
    got = cp.request("GET", f"/workloads/{wl.id}", project, admin(project)).json()["workload"]
    assert (got["name"], got["description"], got["project_id"], got["user_id"]) == (
        wl.name,
        wl.description,
        project,
        user,
    )
    assert got["jobschedule"]["interval"] == wl.jobschedule["interval"] and got["metadata"] == wl.metadata_
    assert [i["id"] for i in got["instances"]] == [v.vm_id for v in wl.vms]
    snaps = cp.request("GET", f"/snapshots/detail?workload_id={wl.id}", project, admin(project)).json()
    listed = sorted(snaps["snapshots"], key=lambda s: s["created_at"])
    assert [s["id"] for s in listed] == [s.id for s, _, _ in written.snapshots]
    for snap, (want, records, kind) in zip(listed, written.snapshots, strict=True):
        assert (snap["name"], snap["description"], snap["snapshot_type"], snap["status"]) == (
            want.name,
            want.description,
            kind,
            "available",
        )
        assert snap["size"] == sum(r["size"] for r in records) and snap["host"] == want.host
        assert snap["created_at"].startswith(_ts(want.created_at)), (snap["created_at"], want.created_at)
        assert [(i["id"], i["size"], i["metadata"], i["vdisks"]) for i in snap["instances"]] == [
            (r["vm_id"], r["size"], r["definition"], r["disks"]) for r in records
        ]


def test_import_orphans_and_reassign(dr: tuple[ControlPlane, Repository, list[Written]]) -> None:
    cp, repo, (alpha, beta) = dr
    token = admin("admin")
    assert cp.request("GET", "/workloads/get_list/import_workloads", LIVE, member(LIVE)).status_code == 403
    assert cp.request("POST", "/workloads/import_workloads", LIVE, member(LIVE), json={}).status_code == 403

    listed = cp.request("GET", "/workloads/get_list/import_workloads", "admin", token)
    assert listed.status_code == 200, listed.text
    on_target = {w["id"]: w for w in listed.json()["workloads"]}
    assert set(on_target) == {alpha.workload.id, beta.workload.id}
    assert not any(w["in_database"] for w in on_target.values())
    assert on_target[alpha.workload.id]["snapshots"] == 3
    newest = max(row.created_at for row, _, _ in alpha.snapshots)
    assert on_target[alpha.workload.id]["last_snapshot_at"] == newest.isoformat(timespec="seconds") + "Z"

    resp = cp.request("POST", "/workloads/import_workloads", "admin", token, json={})
    assert resp.status_code == 200, resp.text
    first = resp.json()["workloads"]
    assert sorted(w["id"] for w in first["imported_workloads"]) == sorted(
        [alpha.workload.id, beta.workload.id]
    )
    assert first["failed_workloads"] == []
    assert_api_matches(cp, alpha, LIVE, "alice")
    assert_api_matches(cp, beta, GONE, "bob")
    # The project's own members see their imported workload.
    mine = cp.request("GET", "/workloads", LIVE, member(LIVE)).json()["workloads"]
    assert [w["id"] for w in mine] == [alpha.workload.id]

    again = cp.request("POST", "/workloads/import_workloads", "admin", token, json={}).json()["workloads"]
    assert again["imported_workloads"] == again["updated_workloads"] == again["failed_workloads"] == []
    assert sorted(w["id"] for w in again["unchanged_workloads"]) == sorted(on_target)
    assert_api_matches(cp, alpha, LIVE, "alice")
    listed_again = cp.request("GET", "/workloads/get_list/import_workloads", "admin", token).json()
    assert all(w["in_database"] for w in listed_again["workloads"])

    orphans = cp.request("GET", "/workloads/orphan_workloads", "admin", token)
    assert orphans.status_code == 200, orphans.text
    assert [(w["id"], w["missing"]) for w in orphans.json()["workloads"]] == [(beta.workload.id, ["project"])]

    body = {
        "workload_ids": [beta.workload.id],
        "new_tenant_id": NEW,
        "user_id": "carol",
        "migrate_cloud": False,
    }
    moved = cp.request("POST", "/workloads/reassign_workloads", "admin", token, json=body)
    assert moved.status_code == 200, moved.text
    assert moved.json()["workloads"]["reassigned_workloads"] == [
        {
            "id": beta.workload.id,
            "name": "beta",
            "old_project_id": GONE,
            "project_id": NEW,
            "user_id": "carol",
        }
    ]
    assert_api_matches(cp, beta, NEW, "carol")
    assert cp.request("GET", f"/workloads/{beta.workload.id}", GONE, member(GONE)).status_code == 404
    assert repo.get_workload(beta.workload.id)["project_id"] == NEW
    assert cp.request("GET", "/workloads/orphan_workloads", "admin", token).json()["workloads"] == []


def test_import_refuses_unknown_ids_and_bad_bodies(
    dr: tuple[ControlPlane, Repository, list[Written]],
) -> None:
    cp, _, _ = dr
    token = admin("admin")
    resp = cp.request("POST", "/workloads/import_workloads", "admin", token, json={"workload_ids": ["nope"]})
    assert resp.status_code == 404 and "not on any backup target" in resp.text
    resp = cp.request("POST", "/workloads/reassign_workloads", "admin", token, json={"workload_ids": ["x"]})
    assert resp.status_code == 400 and "new_tenant_id" in resp.text


def test_a_target_without_vault_is_a_clear_conflict(tmp_path: Path) -> None:
    cp = ControlPlane(tmp_path / "cp", {"backup_target": {"url": str(tmp_path / "empty")}})
    try:
        cp.start_all_in_one()
        resp = cp.request("GET", "/workloads/get_list/import_workloads", "admin", admin("admin"))
        assert resp.status_code == 409 and "holds no vault" in resp.text, resp.text
    finally:
        cp.stop()
