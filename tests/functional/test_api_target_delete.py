"""REST deletes free the backup target: `t4o all-in-one` (stub cloud and workflows) with a real posix vault,
and with SeaweedFS under object lock for the refusal.

The stub snapshot writes no disk, so the test writes each snapshot's disk into the vault under the
snapshot's id, as the datamover snapshot does; the deletes then run the product's path: the API marks
the row, a workloads worker opens the configured target and removes manifests and documents, and the
vault's gc frees the chunks.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from t4o.vault import PosixBackend, Repository, open_backend
from tests.fixtures.control_plane import ControlPlane, member
from tests.fixtures.s3 import S3Bucket
from tests.functional.test_api_all_in_one import create_workload, project, snapshot

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def with_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ControlPlane, Repository, Path]]:
    root = tmp_path_factory.mktemp("target") / "vault"
    repo = Repository.init(PosixBackend(root, fsync=False), chunk_size=64 * 1024)
    cp = ControlPlane(tmp_path_factory.mktemp("aio"), {"backup_target": {"url": str(root)}})
    try:
        cp.start_all_in_one()
        yield cp, repo, root
    finally:
        cp.stop()


def target_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def backed_up(cp: ControlPlane, repo: Repository, proj: str, wid: str, tmp_path: Path) -> str:
    resp = snapshot(cp, proj, wid)
    assert resp.status_code == 202, resp.text
    snap = cp.wait_job("snapshot", resp.json()["snapshot"]["id"], proj, member(proj))
    assert snap["status"] == "available"
    disk = tmp_path / f"{snap['id']}.raw"
    disk.write_bytes(os.urandom(2 * MIB))
    repo.backup_disk(disk, "vda", snapshot_id=snap["id"], workload_id=wid)
    repo.put_snapshot_metadata(snap["id"], {"name": "s"}, workload_id=wid)
    repo.put_workload(wid, {"id": wid})
    return str(snap["id"])


def test_snapshot_and_workload_deletes_free_the_target(
    with_target: tuple[ControlPlane, Repository, Path], tmp_path: Path
) -> None:
    cp, repo, root = with_target
    proj = project()
    wid = create_workload(cp, proj, cp.add_servers(proj, 1))["id"]
    first = backed_up(cp, repo, proj, wid, tmp_path)
    second = backed_up(cp, repo, proj, wid, tmp_path)
    before = target_bytes(root)

    assert cp.request("DELETE", f"/snapshots/{first}", proj, member(proj)).status_code == 202
    assert cp.request("GET", f"/snapshots/{first}", proj, member(proj)).status_code == 404
    assert [s["snapshot_id"] for s in repo.list_snapshots()] == [second]
    repo.gc(grace=0)
    after_snapshot = target_bytes(root)

    assert cp.request("DELETE", f"/workloads/{wid}", proj, member(proj)).status_code == 202
    assert cp.request("GET", f"/workloads/{wid}", proj, member(proj)).status_code == 404
    assert repo.list_snapshots() == [] and repo.list_workloads() == []
    repo.gc(grace=0)
    after_workload = target_bytes(root)
    print(
        f"\ntarget bytes: {before} with two snapshots, {after_snapshot} after deleting one + gc, "
        f"{after_workload} after deleting the workload + gc"
    )
    assert before - after_snapshot >= 2 * MIB - 64 * 1024
    assert after_snapshot - after_workload >= 2 * MIB - 64 * 1024
    assert repo.info()["chunks"] == 0


def test_database_only_keeps_the_data_for_an_import(
    with_target: tuple[ControlPlane, Repository, Path], tmp_path: Path
) -> None:
    cp, repo, _root = with_target
    proj = project()
    wid = create_workload(cp, proj, cp.add_servers(proj, 1))["id"]
    snap = backed_up(cp, repo, proj, wid, tmp_path)
    resp = cp.request("DELETE", f"/workloads/{wid}?database_only=True", proj, member(proj))
    assert resp.status_code == 202, resp.text
    assert [s["snapshot_id"] for s in repo.list_snapshots(wid)] == [snap]
    assert wid in repo.list_workloads()


def test_a_snapshot_under_object_lock_is_refused_with_its_date(
    s3_lock_bucket: S3Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SeaweedFS with object lock as the backup target: nothing is deleted, the 409 and the row say until
    when the snapshot is protected."""
    server = s3_lock_bucket.server
    url = f"s3://{s3_lock_bucket.name}/vault?endpoint={server.endpoint}"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", server.access_key)  # the services inherit the credentials
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", server.secret_key)
    repo = Repository.init(open_backend(url), chunk_size=64 * 1024)
    cp = ControlPlane(tmp_path / "aio", {"backup_target": {"url": url}})
    try:
        cp.start_all_in_one()
        proj = project()
        wid = create_workload(cp, proj, cp.add_servers(proj, 1))["id"]
        snap = backed_up(cp, repo, proj, wid, tmp_path)
        until = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).replace(microsecond=0)
        repo.lock_snapshot(snap, until)

        resp = cp.request("DELETE", f"/snapshots/{snap}", proj, member(proj))
        assert resp.status_code == 409, resp.text
        assert until.isoformat() in resp.json()["conflictingRequest"]["message"]
        row = cp.request("GET", f"/snapshots/{snap}", proj, member(proj)).json()["snapshot"]
        assert row["status"] == "available" and until.isoformat() in row["error_msg"]

        resp = cp.request("DELETE", f"/workloads/{wid}", proj, member(proj))
        assert resp.status_code == 409 and until.isoformat() in resp.text
        assert cp.request("GET", f"/workloads/{wid}", proj, member(proj)).json()["workload"]["status"] == (
            "available"
        )
        assert [s["snapshot_id"] for s in repo.list_snapshots()] == [snap]
        assert repo.list_workloads() == [wid]
    finally:
        cp.stop()
