"""File search on devcloud: POST /search and GET /search/{id} over the two snapshots of the file recovery
guests (tests/integration/file_recovery_disks.py), run by a workloads worker straight from the vault.

For each guest (ext4 bare, GPT, MBR after a swap area, xfs bare, LVM with ext4 and xfs LVs): an exact
path search for the changed file and a glob (``*.bin``) find it in both snapshots, newest first, on every
volume holding a filesystem (the swap partition and the LVM PV skipped), with the size and mtime of the
test's model; a regex finds the nested text files and no other; a search limited by snapshot_ids covers
that snapshot only. Project other gets 404 on POST with demo's VM and on GET of demo's search, and does
not see it in its list."""

from __future__ import annotations

import time
import uuid
from typing import Any

import requests
from openstack.connection import Connection

from demo.services import T4OServices
from tests.fixtures.devcloud import Devcloud
from tests.integration.file_recovery_disks import CHANGED, FILES, MTIMES, Guest, RecoverySnapshots
from tests.integration.file_recovery_disks import call as call_api

pytest_plugins = ["tests.integration.file_recovery_snapshots"]

SEARCH_TIMEOUT = 180.0
NESTED_TXT = r"^/nested/.*\.txt$"


def expected_disks(g: Guest, paths: list[str]) -> dict[Any, dict[str, Any]]:
    """What a search finds on a guest's disk, by volume: the filesystem and each path's type, name, size
    and mtime when the test knows it (every file on ext4; on xfs, which gives each file its creation
    time, the changed file's, read with xfs_db). Both snapshots alike: only the changed file's data
    blocks differ between them."""
    out: dict[Any, dict[str, Any]] = {}
    for vol in g.volumes:
        entries: dict[str, dict[str, Any]] = {}
        for p in paths:
            entries[p] = {"type": "file", "name": p.rsplit("/", 1)[1], "size": len(FILES[p])}
            if p == CHANGED:
                entries[p]["mtime"] = vol.changed_mtime
            elif vol.filesystem == "ext4":
                entries[p]["mtime"] = MTIMES[p]
        out[vol.partition] = {
            "disk": "vda",
            "filesystem": vol.filesystem,
            "truncated": False,
            "entries": entries,
        }
    return out


def found_disks(
    snapshot_result: dict[str, Any], expected: dict[Any, dict[str, Any]]
) -> dict[Any, dict[str, Any]]:
    """A snapshot's result in the shape of expected_disks, each entry with the fields the model has."""
    out: dict[Any, dict[str, Any]] = {}
    for d in snapshot_result["disks"]:
        assert d["partition"] not in out, snapshot_result
        modelled = expected.get(d["partition"], {}).get("entries", {})
        entries: dict[str, Any] = {}
        for e in d["entries"]:
            assert e["path"] not in entries, d
            entries[e["path"]] = {k: e.get(k) for k in modelled.get(e["path"], {"type": None})}
        out[d["partition"]] = {
            "disk": d["disk"],
            "filesystem": d["filesystem"],
            "truncated": d["truncated"],
            "entries": entries,
        }
    return out


def test_search_finds_each_snapshots_files_on_every_volume(
    devcloud: Devcloud, t4o_services: T4OServices, recovery_snapshots: RecoverySnapshots
) -> None:
    rs = recovery_snapshots
    conn = devcloud.connection("devcloud-demo")
    other = devcloud.connection("devcloud-other")
    started = time.monotonic()
    log_from = {name: len(t4o_services.log(name)) for name in ("workloadmgr-api", "workloadmgr-workloads")}

    def call(who: Connection, method: str, path: str, **kwargs: Any) -> requests.Response:
        return call_api(t4o_services, who, method, path, **kwargs)

    def post(who: Connection, vm_id: str, filepath: str, **more: Any) -> requests.Response:
        return call(
            who, "POST", "/search", json={"file_search": {"vm_id": vm_id, "filepath": filepath, **more}}
        )

    def start(vm_id: str, filepath: str, **more: Any) -> str:
        resp = post(conn, vm_id, filepath, **more)
        assert resp.status_code == 202, resp.text
        view = resp.json()["file_search"]
        assert (view["vm_id"], view["filepath"], view["status"]) == (vm_id, filepath, "executing"), view
        return str(view["id"])

    def finished(search_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + SEARCH_TIMEOUT
        while True:
            resp = call(conn, "GET", f"/search/{search_id}")
            assert resp.status_code == 200, resp.text
            view = dict(resp.json()["file_search"])
            if view["status"] != "executing":
                return view
            assert time.monotonic() < deadline, f"search {search_id} still executing: {view}"
            time.sleep(0.5)

    # every search asked at once; the worker runs them while the test waits
    searches: dict[tuple[str, str], str] = {}
    for g in rs.guests:
        searches[(g.kind, "path")] = start(g.server, CHANGED)
        searches[(g.kind, "glob")] = start(g.server, "*.bin")
    for kind in ("ext4", "lvm"):
        searches[(kind, "regex")] = start(rs.guest(kind).server, NESTED_TXT)
    only_snap1 = start(rs.guest("lvm").server, "/chang?d.bin", snapshot_ids=[rs.snap1])

    wanted = {
        "path": [CHANGED],
        "glob": [CHANGED, "/big.bin"],
        "regex": ["/nested/note.txt", "/nested/a/b/deep.txt"],
    }
    for (kind, how), search_id in searches.items():
        g = rs.guest(kind)
        view = finished(search_id)
        assert (view["status"], view["error_msg"], view["progress_percent"]) == ("completed", None, 100), view
        results = view["json_resp"]
        # both snapshots, newest first; the same files in each (the changed file keeps its size and mtime)
        assert [r["snapshot_id"] for r in results] == [rs.snap2, rs.snap1], results
        expected = expected_disks(g, wanted[how])
        for r in results:
            assert (r["status"], r["error_msg"]) == ("completed", None), r
            assert found_disks(r, expected) == expected, (kind, how, r["snapshot_id"])
            for d in r["disks"]:
                for e in d["entries"]:
                    assert e["mode"] == "0644" and e["path"].endswith("/" + e["name"]), e
    view = finished(only_snap1)
    assert view["status"] == "completed" and view["snapshot_ids"] == [rs.snap1], view
    assert [r["snapshot_id"] for r in view["json_resp"]] == [rs.snap1]
    expected = expected_disks(rs.guest("lvm"), [CHANGED])
    assert found_disks(view["json_resp"][0], expected) == expected
    print(f"\n[search] {len(searches) + 1} searches over two snapshots: {time.monotonic() - started:.1f} s")

    # a search of the project's list, and what a bad request gets
    listed = call(conn, "GET", "/search").json()["file_searches"]
    assert set(searches.values()) | {only_snap1} <= {s["id"] for s in listed}
    assert all("json_resp" not in s for s in listed)
    ext4 = rs.guest("ext4").server
    for body, status in (
        ({"vm_id": ext4, "filepath": "^/nested/(.*\\.txt$"}, 400),  # not a regular expression
        ({"vm_id": ext4, "filepath": CHANGED, "snapshot_ids": [rs.snap1], "start": 1}, 400),  # none left
        ({"vm_id": str(uuid.uuid4()), "filepath": CHANGED}, 404),  # no snapshot holds that VM
    ):
        resp = call(conn, "POST", "/search", json={"file_search": body})
        assert resp.status_code == status, (body, resp.status_code, resp.text)

    # isolation: project other can neither search demo's VM nor read demo's search
    for filepath in (CHANGED, "*.bin"):
        resp = post(other, ext4, filepath)
        assert resp.status_code == 404, resp.text
    resp = post(other, ext4, CHANGED, snapshot_ids=[rs.snap1])
    assert resp.status_code == 404, resp.text
    for search_id in (searches[("ext4", "path")], searches[("lvm", "glob")]):
        resp = call(other, "GET", f"/search/{search_id}")
        assert resp.status_code == 404, resp.text
        assert CHANGED not in resp.text
    resp = call(other, "GET", "/search")
    assert resp.status_code == 200, resp.text
    assert not {s["id"] for s in resp.json()["file_searches"]} & set(searches.values())

    for name, at in log_from.items():  # the session's logs: this test's part
        assert "Traceback" not in t4o_services.log(name)[at:], name
