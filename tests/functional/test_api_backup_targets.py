"""Backup targets through the API of a real ``t4o all-in-one``: admin CRUD, 400s, 403 for members,
409s, S3 keys stored sealed and never shown, and the target a workload records at create time."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.control_plane import ControlPlane, admin, member
from tests.functional.test_api_all_in_one import create_workload, project

SECRET = "s3-secret-that-must-not-leak"


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    # Its own control plane: targets are cloud-wide, and a default target changes every new workload.
    vault = tmp_path_factory.mktemp("configured") / "vault"
    cp = ControlPlane(
        tmp_path_factory.mktemp("aio"),
        {"DEFAULT": {"settings_key": "a passphrase for secrets"}, "backup_target": {"url": str(vault)}},
    )
    try:
        cp.start_all_in_one()
        yield cp
    finally:
        cp.stop()


def post(cp: ControlPlane, proj: str, token: str, **target: Any) -> Any:
    return cp.request("POST", "/backup_targets", proj, token, json={"backup_target": target})


def test_backup_target_crud(plane: ControlPlane, tmp_path: Path) -> None:
    cp, proj = plane, project()
    adm = admin(proj)

    # None defined: the configured target alone, read-only and the default.
    listed = cp.request("GET", "/backup_targets", proj, adm).json()["backup_targets"]
    assert [(t["id"], t["read_only"], t["is_default"]) for t in listed] == [("config", True, True)]
    assert (
        cp.request("PUT", "/backup_targets/config", proj, adm, json={"backup_target": {}}).status_code == 409
    )
    assert cp.request("DELETE", "/backup_targets/config", proj, adm).status_code == 409

    # Members: 403 on every call.
    mem = member(proj)
    for method, path in (("GET", "/backup_targets"), ("GET", "/backup_targets/config")):
        resp = cp.request(method, path, proj, mem)
        assert resp.status_code == 403 and "backup_target:get" in resp.text
    resp = post(cp, proj, mem, name="x", type="posix", url=str(tmp_path))
    assert resp.status_code == 403 and "backup_target:create" in resp.text
    assert cp.request("DELETE", "/backup_targets/config", proj, mem).status_code == 403

    # Bad input: 400 with a message.
    bad = [
        ({"name": "x", "type": "ftp", "url": "/x"}, "ftp"),
        ({"name": "x", "type": "posix", "url": "relative/dir"}, "absolute path"),
        ({"name": "x", "type": "posix", "url": str(tmp_path), "immutable": True}, "Only an s3"),
        ({"name": "x", "type": "nfs", "url": "nfs:/no-server"}, "nfs://server/export"),
        ({"name": "x", "type": "s3", "url": "s3://b?colour=red"}, "colour"),
        ({"name": "x", "type": "s3", "url": "/a/dir"}, "s3://bucket"),
        ({"name": "config", "type": "posix", "url": str(tmp_path)}, "other than 'config'"),
        (
            {
                "name": "x",
                "type": "posix",
                "url": str(tmp_path),
                "credentials": {"access_key": "a", "secret_key": "b"},
            },
            "Only an s3",
        ),
        ({"name": "x", "type": "s3", "url": "s3://b", "credentials": {"access_key": "a"}}, "secret_key"),
    ]
    for body, message in bad:
        resp = post(cp, proj, adm, **body)
        assert resp.status_code == 400 and message in resp.text, (body, resp.text)

    local = post(cp, proj, adm, name="local", type="posix", url=str(tmp_path / "local"))
    assert local.status_code == 200, local.text
    local_t = local.json()["backup_target"]
    keys = {"access_key": "AKIDEXAMPLE", "secret_key": SECRET}
    s3 = post(
        cp, proj, adm, name="objects", type="s3", url="s3://bkt/t4o?endpoint=http://127.0.0.1:1",
        is_default=True, immutable=True, credentials=keys,
    )  # fmt: skip
    assert s3.status_code == 200, s3.text
    s3_t = s3.json()["backup_target"]
    assert (s3_t["is_default"], s3_t["immutable"], s3_t["has_credentials"]) == (True, True, True)
    assert SECRET not in s3.text and "credentials" not in s3_t
    assert post(cp, proj, adm, name="local", type="posix", url="/elsewhere").status_code == 409
    nfs = post(cp, proj, adm, name="share", type="nfs", url="nfs://filer.example/exports/t4o")
    assert nfs.status_code == 200 and nfs.json()["backup_target"]["mount_point"].startswith("/")

    listed = cp.request("GET", "/backup_targets", proj, adm).json()["backup_targets"]
    assert [t["name"] for t in listed] == ["local", "objects", "share"]  # the configured one is gone
    assert [t["is_default"] for t in listed] == [False, True, False]
    assert SECRET not in cp.request("GET", f"/backup_targets/{s3_t['id']}", proj, adm).text

    # A database dump does not reveal the S3 keys.
    with sqlite3.connect(cp.workdir / "t4o.sqlite") as db:
        (stored,) = db.execute(
            "SELECT credentials FROM backup_targets WHERE id = ?", (s3_t["id"],)
        ).fetchone()
    assert stored.startswith("fernet:") and SECRET not in stored and "AKIDEXAMPLE" not in stored

    # Workloads: the default target unless they name one; shown in the record; never moved.
    vms = cp.add_servers(proj, 3)
    on_default = create_workload(cp, proj, vms[:1])
    assert on_default["backup_target_id"] == s3_t["id"]
    on_local = create_workload(cp, proj, vms[1:2], backup_target_id=local_t["id"])
    assert on_local["backup_target_id"] == local_t["id"]
    shown = cp.request("GET", f"/workloads/{on_local['id']}", proj, mem).json()["workload"]
    assert shown["backup_target_id"] == local_t["id"]
    body = {"workload": {"name": "wl", "instances": [{"instance-id": vms[2]}], "backup_target_id": "nope"}}
    resp = cp.request("POST", "/workloads", proj, mem, json=body)
    assert resp.status_code == 400 and "Backup target nope does not exist" in resp.text
    move = {"workload": {"backup_target_id": s3_t["id"]}}
    resp = cp.request("PUT", f"/workloads/{on_local['id']}", proj, mem, json=move)
    assert resp.status_code == 409 and "cannot change" in resp.text
    same = {"workload": {"name": "renamed", "backup_target_id": local_t["id"]}}
    assert cp.request("PUT", f"/workloads/{on_local['id']}", proj, mem, json=same).status_code == 202

    # A used target: not deleted, its url not changed; its keys and name may change.
    resp = cp.request("DELETE", f"/backup_targets/{s3_t['id']}", proj, adm)
    assert resp.status_code == 409 and "1 workload(s)" in resp.text
    upd = {"backup_target": {"url": "s3://other"}}
    assert cp.request("PUT", f"/backup_targets/{s3_t['id']}", proj, adm, json=upd).status_code == 409
    upd = {"backup_target": {"name": "objects-2", "credentials": {"access_key": "K2", "secret_key": "S2"}}}
    resp = cp.request("PUT", f"/backup_targets/{s3_t['id']}", proj, adm, json=upd)
    assert resp.status_code == 200 and resp.json()["backup_target"]["name"] == "objects-2"
    assert resp.json()["backup_target"]["workload_count"] == 1
    # The default moves to another target.
    upd = {"backup_target": {"is_default": True}}
    assert cp.request("PUT", f"/backup_targets/{local_t['id']}", proj, adm, json=upd).status_code == 200
    defaults = [t["name"] for t in cp.request("GET", "/backup_targets", proj, adm).json()["backup_targets"]
                if t["is_default"]]  # fmt: skip
    assert defaults == ["local"]

    # Once its workloads are gone, a target can go.
    for wl in (on_default, on_local):
        resp = cp.request("DELETE", f"/workloads/{wl['id']}?database_only=True", proj, mem)
        assert resp.status_code == 202, resp.text
    for t in (s3_t, local_t, nfs.json()["backup_target"]):
        assert cp.request("DELETE", f"/backup_targets/{t['id']}", proj, adm).status_code == 202
        assert cp.request("GET", f"/backup_targets/{t['id']}", proj, adm).status_code == 404
    listed = cp.request("GET", "/backup_targets", proj, adm).json()["backup_targets"]
    assert [t["id"] for t in listed] == ["config"]
