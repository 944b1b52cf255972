"""File search through the real API: a VM whose snapshots hold real ext4 filesystems (``mke2fs -d``
from trees the test wrote, a different tree per snapshot, one snapshot with a second, partitioned disk
holding an ext4 partition and swap) is backed up into the vault by the product's backup path and
imported; searches by path, glob and regex run on the all-in-one's workloads worker and must find, in
each snapshot, the version of each file the test wrote there. Filters, errors, isolation, policy,
progress and searches whose worker stopped too."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from t4o.vault import Repository, backup_source, open_target
from t4o.workloads import documents
from tests.fixtures.control_plane import ControlPlane, admin, member
from tests.fixtures.target_documents import BytesSource

DEMO, OTHER = "demo", "other"
MTIME = 1_700_000_000
DAY = 86_400
CREATED = dt.datetime(2026, 1, 2, 3, 4, 5)
POLICY_YAML = '"snapshot:file_search": "rule:admin_or_owner and not user_id:mallory"\n'
MAX_SNAPSHOTS = 30
MANY = MAX_SNAPSHOTS + 1  # snapshots of the VM the timing test searches

# The tree of vda in each snapshot of the main VM, oldest first; each snapshot's files have the mtime
# MTIME + index days, so a result tells which version it found.
TREES: list[dict[str, bytes]] = [
    {
        "etc/hosts": b"127.0.0.1 localhost\n",
        "etc/app/config.yaml": b"replicas: 1\n",
        "var/log/a.log": b"a" * 10,
        "var/log/b.log": b"b" * 20,
        "home/alice/notes.txt": b"first notes\n",
    },
    {
        "etc/hosts": b"127.0.0.1 localhost\n10.0.0.5 db\n",
        "etc/app/config.yaml": b"replicas: 2\nname: demo\n",
        "var/log/a.log": b"a" * 11,
        "var/log/c.log": b"c" * 30,
    },
    {
        "etc/hosts": b"127.0.0.1 localhost\n10.0.0.5 db\n10.0.0.6 cache\n",
        "etc/app/config.yaml": b"replicas: 3\nname: demo\nextra: yes\n",
        "var/log/a.log": b"a" * 12,
        "var/log/c.log": b"c" * 31,
        "srv/app.yaml": b"port: 8080\n",
    },
]
# The second disk (vdb) of the newest snapshot: partition 1 ext4, partition 2 swap.
VDB_TREE = {"home/bob/todo.txt": b"buy milk\n", "etc/hosts": b"not the root's hosts\n"}


def _mkfs(root: Path, files: dict[str, bytes], image: Path, mtime: int, size: str = "8M") -> bytes:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + dirnames:
            os.utime(os.path.join(dirpath, name), (mtime, mtime), follow_symlinks=False)
    os.utime(root, (mtime, mtime))
    subprocess.run(
        [shutil.which("mke2fs") or "/usr/sbin/mke2fs", "-q", "-F", "-t", "ext4", "-E", "root_owner=0:0",
         "-d", str(root), str(image), size],
        check=True, capture_output=True, env={**os.environ, "E2FSPROGS_FAKE_TIME": str(mtime)},
    )  # fmt: skip
    return image.read_bytes()


def _partitioned(fs: bytes, workdir: Path) -> bytes:
    """An MBR disk: partition 1 holds ``fs``, partition 2 is swap (skipped by a search)."""
    mib = 1 << 20
    swap = workdir / "swap.img"
    with open(swap, "wb") as f:
        f.truncate(mib)
    subprocess.run([shutil.which("mkswap") or "/usr/sbin/mkswap", str(swap)], check=True, capture_output=True)
    disk = workdir / "vdb.img"
    with open(disk, "wb") as f:
        f.truncate(mib + len(fs) + mib + mib)
    sectors = len(fs) // 512
    table = f"label: dos\nstart=2048, size={sectors}, type=83\nstart={2048 + sectors}, size=2048, type=82\n"
    subprocess.run(
        [shutil.which("sfdisk") or "/usr/sbin/sfdisk", "-q", str(disk)], input=table.encode(), check=True
    )
    with open(disk, "r+b") as f:
        f.seek(mib)
        f.write(fs)
        f.write(swap.read_bytes())
    return disk.read_bytes()


@dataclass
class Snap:
    id: str
    name: str
    created_at: dt.datetime


@dataclass
class Vm:
    vm_id: str
    snapshots: list[Snap]  # oldest first


def write_vm(repo: Repository, project: str, name: str, disks: list[dict[str, bytes]]) -> Vm:
    """A workload of one VM with one full snapshot per item of ``disks`` ({target: disk bytes}),
    written as T4O's snapshots write them, for an import."""
    vm_id = str(uuid.uuid4())
    wl = SimpleNamespace(
        id=str(uuid.uuid4()), name=name, description="", project_id=project, user_id="alice",
        workload_type_id="f82ce76f-17fe-438b-aa37-7a023058e50d", source_platform="openstack",
        jobschedule={"enabled": False}, metadata_={}, encryption=False, secret_uuid=None, created_at=CREATED,
        vms=[SimpleNamespace(vm_id=vm_id, vm_name=f"{name}-vm", volume_count=0)],
    )  # fmt: skip
    vm = Vm(vm_id, [])
    for i, snapshot_disks in enumerate(disks):
        snap = SimpleNamespace(
            id=str(uuid.uuid4()), name=f"{name}-snap-{i}", description="", project_id=project,
            user_id="alice", host="worker-1", created_at=CREATED + dt.timedelta(hours=i + 1),
            started_at=CREATED + dt.timedelta(hours=i + 1), metadata_={},
        )  # fmt: skip
        records = []
        for target, data in snapshot_disks.items():
            m = backup_source(repo, BytesSource(data), target, snapshot_id=snap.id, workload_id=wl.id)
            records.append(
                {"target": target, "ref": m.ref, "size": len(data), "incremental": False,
                 "read_bytes": len(data), "new_bytes": len(data), "kind": "instance"}
            )  # fmt: skip
        vm_record = {
            "vm_id": vm_id, "vm_name": f"{name}-vm", "definition": {"server": {"name": f"{name}-vm"}},
            "disks": records, "size": sum(len(d) for d in snapshot_disks.values()), "status": "available",
        }  # fmt: skip
        repo.put_workload(wl.id, documents.workload_document(wl))
        repo.put_snapshot_metadata(
            snap.id, documents.snapshot_document(snap, [vm_record], [], "full", None), workload_id=wl.id
        )
        vm.snapshots.append(Snap(snap.id, snap.name, snap.created_at))
    return vm


@dataclass
class Env:
    cp: ControlPlane
    main: Vm  # three snapshots of TREES, the newest with vdb too
    many: Vm  # MANY snapshots of one tree
    broken: Vm  # two snapshots; the older one's disk is missing from the vault


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    workdir = tmp_path_factory.mktemp("search")
    vdas = [
        _mkfs(workdir / f"tree{i}", t, workdir / f"vda{i}.img", MTIME + i * DAY) for i, t in enumerate(TREES)
    ]
    vdb = _partitioned(_mkfs(workdir / "tree-vdb", VDB_TREE, workdir / "vdb-fs.img", MTIME), workdir)
    url = str(workdir / "vault")
    repo = open_target(url, create_if_missing=True)
    main = write_vm(repo, DEMO, "main", [{"vda": vdas[0]}, {"vda": vdas[1]}, {"vda": vdas[2], "vdb": vdb}])
    many = write_vm(repo, DEMO, "many", [{"vda": vdas[0]}] * MANY)
    broken = write_vm(repo, DEMO, "broken", [{"vda": vdas[1]}] * 2)
    policy_file = workdir / "policy.yaml"
    policy_file.write_text(POLICY_YAML)
    cp = ControlPlane(
        workdir / "cp",
        {
            "backup_target": {"url": url},
            "oslo_policy": {"policy_file": str(policy_file)},
            "file_recovery": {"search_max_snapshots": MAX_SNAPSHOTS},
        },
    )
    try:
        cp.start_all_in_one()
        resp = cp.request("POST", "/workloads/import_workloads", "admin", admin("admin"), json={})
        assert resp.status_code == 200 and not resp.json()["workloads"]["failed_workloads"], resp.text
        # the older snapshot of "broken" names a disk the vault does not have
        with sqlite3.connect(cp.workdir / "t4o.sqlite") as db:
            (disks,) = db.execute(
                "SELECT disks FROM snapshot_vms WHERE snapshot_id = ?", (broken.snapshots[0].id,)
            ).fetchone()
            records = json.loads(disks)
            records[0]["ref"] = f"{broken.snapshots[0].id}/{uuid.uuid4()}"
            db.execute(
                "UPDATE snapshot_vms SET disks = ? WHERE snapshot_id = ?",
                (json.dumps(records), broken.snapshots[0].id),
            )
        yield Env(cp, main, many, broken)
    finally:
        cp.stop()


def _post(env: Env, body: dict[str, Any], token: str | None = None, project: str = DEMO) -> requests.Response:
    return env.cp.request("POST", "/search", project, token or member(DEMO), json={"file_search": body})


def _get(env: Env, search_id: str, token: str | None = None, project: str = DEMO) -> requests.Response:
    return env.cp.request("GET", f"/search/{search_id}", project, token or member(DEMO))


def _search(env: Env, body: dict[str, Any], timeout: float = 60) -> tuple[dict[str, Any], list[int]]:
    """Posts a search and polls it until it ends: (the search, the progress seen while polling)."""
    resp = _post(env, body)
    assert resp.status_code == 202, resp.text
    search = resp.json()["file_search"]
    assert search["status"] in ("executing", "completed"), search
    seen = [search["progress_percent"]]
    deadline = time.monotonic() + timeout
    while search["status"] == "executing":
        assert time.monotonic() < deadline, f"search {search['id']} did not end: {search}"
        time.sleep(0.1)
        resp = _get(env, search["id"])
        assert resp.status_code == 200, resp.text
        search = resp.json()["file_search"]
        seen.append(search["progress_percent"])
    return search, seen


def _found(search: dict[str, Any]) -> dict[str, dict[tuple[str, Any], list[tuple[str, int, int]]]]:
    """{snapshot id: {(disk, partition): [(path, size, mtime)]}} of a search's results."""
    return {
        s["snapshot_id"]: {
            (d["disk"], d["partition"]): [(e["path"], e["size"], e["mtime"]) for e in d["entries"]]
            for d in s["disks"]
        }
        for s in search["json_resp"]
    }


def expected(main: Vm, paths: set[str] | None = None, match: Any = None) -> dict[str, Any]:
    """What the main VM's snapshots hold, from the trees the test wrote: per snapshot, vda's files
    whose path is in ``paths`` or passes ``match``, and vdb's partition 1 for the newest."""

    def pick(tree: dict[str, bytes], mtime: int) -> list[tuple[str, int, int]]:
        return sorted(
            ("/" + rel, len(data), mtime)
            for rel, data in tree.items()
            if (paths is not None and "/" + rel in paths) or (match is not None and match("/" + rel))
        )

    out: dict[str, Any] = {}
    for i, snap in enumerate(main.snapshots):
        disks: dict[tuple[str, Any], Any] = {("vda", None): pick(TREES[i], MTIME + i * DAY)}
        if i == 2:
            disks[("vdb", 1)] = pick(VDB_TREE, MTIME)
        out[snap.id] = disks
    return out


def newest_first(vm: Vm) -> list[str]:
    return [s.id for s in reversed(vm.snapshots)]


def test_a_path_finds_each_snapshots_version(env: Env) -> None:
    search, seen = _search(env, {"vm_id": env.main.vm_id, "filepath": "/etc/hosts"})
    assert search["status"] == "completed" and search["error_msg"] is None, search
    assert search["progress_percent"] == 100 and seen == sorted(seen)
    assert search["finished_at"] and search["created_at"]
    assert (search["vm_id"], search["filepath"], search["project_id"], search["user_id"]) == (
        env.main.vm_id, "/etc/hosts", DEMO, "alice"
    )  # fmt: skip
    assert (search["snapshot_ids"], search["start"], search["end"], search["date_from"]) == (None, 0, 0, None)
    # newest first, every snapshot completed, with its name and time
    assert [s["snapshot_id"] for s in search["json_resp"]] == newest_first(env.main)
    for entry, snap in zip(search["json_resp"], reversed(env.main.snapshots), strict=True):
        assert (entry["status"], entry["error_msg"], entry["snapshot_name"]) == ("completed", None, snap.name)
        assert entry["snapshot_created_at"].startswith(snap.created_at.isoformat())
    # each snapshot's own version of the file (sizes and times differ); vdb's partition 1 has another
    # /etc/hosts; its swap partition is not searched
    assert _found(search) == expected(env.main, paths={"/etc/hosts"})
    newest = search["json_resp"][0]
    assert [(d["disk"], d["partition"], d["filesystem"], d["truncated"]) for d in newest["disks"]] == [
        ("vda", None, "ext4", False), ("vdb", 1, "ext4", False)
    ]  # fmt: skip
    hosts = newest["disks"][0]["entries"][0]
    assert (hosts["name"], hosts["type"], hosts["mode"], hosts["link_target"]) == (
        "hosts",
        "file",
        "0644",
        None,
    )

    # a file only some snapshots have: the others answer no entries
    search, _ = _search(env, {"vm_id": env.main.vm_id, "filepath": "/home/alice/notes.txt"})
    assert _found(search) == expected(env.main, paths={"/home/alice/notes.txt"})
    assert [bool(s["disks"][0]["entries"]) for s in search["json_resp"]] == [False, False, True]

    log = env.cp.log("all-in-one")
    assert f"file search {search['id']} started on" in log
    assert (
        f"file search {search['id']} completed in" in log
        and "3 snapshot(s) searched, 0 with errors, 1 match(es)" in log
    )


def test_globs_and_regexes(env: Env) -> None:
    vm = env.main.vm_id
    search, _ = _search(env, {"vm_id": vm, "filepath": "/var/log/*.log"})
    assert _found(search) == expected(
        env.main, match=lambda p: p.startswith("/var/log/") and p.endswith(".log")
    )
    # a bare name or relative glob matches names at any depth
    search, _ = _search(env, {"vm_id": vm, "filepath": "*.yaml"})
    assert _found(search) == expected(env.main, match=lambda p: p.endswith(".yaml"))
    # a relative glob naming directories is taken from the root
    search, _ = _search(env, {"vm_id": vm, "filepath": "etc/app/*.yaml"})
    assert _found(search) == expected(env.main, paths={"/etc/app/config.yaml"})
    search, _ = _search(env, {"vm_id": vm, "filepath": "/**/*.txt"})
    assert _found(search) == expected(env.main, match=lambda p: p.endswith(".txt"))
    # a regex over full paths: the newest snapshot's vdb partition 1 holds /home/bob/todo.txt
    search, _ = _search(env, {"vm_id": vm, "filepath": r"^/home/[a-z]+/.*\.txt$"})
    assert _found(search) == expected(env.main, match=lambda p: p.startswith("/home/") and p.endswith(".txt"))
    assert _found(search)[env.main.snapshots[2].id][("vdb", 1)] == [("/home/bob/todo.txt", 9, MTIME)]
    search, _ = _search(env, {"vm_id": vm, "filepath": r"c\.log$"})
    assert _found(search) == expected(env.main, paths={"/var/log/c.log"})


def test_snapshot_filters(env: Env) -> None:
    vm, snaps = env.main.vm_id, env.main.snapshots
    old, middle, new = (s.id for s in snaps)

    def searched(**criteria: Any) -> list[str]:
        search, _ = _search(env, {"vm_id": vm, "filepath": "/etc/hosts", **criteria})
        assert search["status"] == "completed", search
        return [s["snapshot_id"] for s in search["json_resp"]]

    assert searched(snapshot_ids=[old, new]) == [new, old]
    assert searched(snapshot_ids=f"{middle}, {old}") == [middle, old]  # Trilio's comma-separated form
    assert searched(start=1) == [middle, old]
    assert searched(start=1, end=2) == [middle]
    assert searched(end=1) == [new]
    # the snapshots were taken an hour apart from CREATED + 1 h
    assert searched(date_from=(snaps[1].created_at - dt.timedelta(minutes=1)).isoformat() + "Z") == [
        new,
        middle,
    ]
    assert searched(date_to=(snaps[1].created_at + dt.timedelta(minutes=1)).isoformat()) == [middle, old]
    assert searched(date_from=snaps[1].created_at.isoformat(), date_to=snaps[1].created_at.isoformat()) == [
        middle
    ]
    assert searched(date_from="2026-01-02", date_to="2026-01-02", start=0, end=0) == [new, middle, old]
    assert searched(date_from="", date_to="", snapshot_ids="") == [new, middle, old]  # empty means none


def test_one_snapshot_failing_does_not_fail_the_others(env: Env) -> None:
    search, _ = _search(env, {"vm_id": env.broken.vm_id, "filepath": "/etc/hosts"})
    assert search["status"] == "completed", search
    good, bad = search["json_resp"]
    assert (good["snapshot_id"], good["status"]) == (env.broken.snapshots[1].id, "completed")
    assert [e["path"] for e in good["disks"][0]["entries"]] == ["/etc/hosts"]
    assert (bad["snapshot_id"], bad["status"], bad["disks"]) == (env.broken.snapshots[0].id, "error", [])
    assert "disk vda cannot be read from the backup target" in bad["error_msg"]


def test_thirty_snapshots_within_a_minute(env: Env) -> None:
    started = time.monotonic()
    search, seen = _search(env, {"vm_id": env.many.vm_id, "filepath": "/etc/hosts", "end": MAX_SNAPSHOTS})
    took = time.monotonic() - started
    print(f"\nsearch of one path in {MAX_SNAPSHOTS} snapshots: {took:.1f} s (progress seen: {seen})")
    assert search["status"] == "completed", search
    assert [s["snapshot_id"] for s in search["json_resp"]] == newest_first(env.many)[:MAX_SNAPSHOTS]
    assert all(s["disks"][0]["entries"][0]["size"] == len(TREES[0]["etc/hosts"]) for s in search["json_resp"])
    assert took < 60


def test_bad_requests(env: Env) -> None:
    vm = env.main.vm_id
    other_vm_snapshot = env.broken.snapshots[1].id

    def bad(body: dict[str, Any], words: str) -> None:
        resp = env.cp.request("POST", "/search", DEMO, member(DEMO), json=body)
        assert resp.status_code == 400, (body, resp.text)
        assert words in resp.json()["badRequest"]["message"], (body, resp.text)

    bad({"file_search": {"vm_id": vm}}, "filepath")
    bad({"file_search": {"filepath": "/etc/hosts"}}, "vm_id")
    bad({"vm_id": vm, "filepath": "/x"}, "file_search")
    bad({"file_search": {"vm_id": vm, "filepath": "/x", "colour": "red"}}, "colour")
    bad({"file_search": {"vm_id": vm, "filepath": ""}}, "filepath")
    bad({"file_search": {"vm_id": vm, "filepath": "^(unclosed"}}, "not a valid regular expression")
    bad({"file_search": {"vm_id": vm, "filepath": "/x", "start": -1}}, "start")
    bad(
        {"file_search": {"vm_id": vm, "filepath": "/x", "start": 2, "end": 1}},
        "end (1) must be more than start",
    )
    bad({"file_search": {"vm_id": vm, "filepath": "/x", "start": 3}}, "No available snapshot of VM")
    bad(
        {"file_search": {"vm_id": vm, "filepath": "/x", "date_from": "yesterday"}},
        "date_from is not an ISO 8601",
    )
    bad({"file_search": {"vm_id": vm, "filepath": "/x", "date_from": "2027-01-01"}}, "No available snapshot")
    bad({"file_search": {"vm_id": vm, "filepath": "/x", "date_from": "2026-02-01", "date_to": "2026-01-01"}},
        "is after date_to")  # fmt: skip
    bad({"file_search": {"vm_id": vm, "filepath": "/x", "snapshot_ids": [other_vm_snapshot]}},
        f"Snapshot {other_vm_snapshot} does not hold VM {vm}")  # fmt: skip
    bad({"file_search": {"vm_id": env.many.vm_id, "filepath": "/x"}},
        f"{MANY} snapshots match; a search covers at most {MAX_SNAPSHOTS}")  # fmt: skip
    resp = env.cp.request(
        "POST", "/search", DEMO, member(DEMO), data="{", headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 400, resp.text


def test_not_found_isolation_and_policy(env: Env) -> None:
    vm = env.main.vm_id
    resp = _post(env, {"vm_id": str(uuid.uuid4()), "filepath": "/etc/hosts"})
    assert resp.status_code == 404 and "holds VM" in resp.text, resp.text
    missing = str(uuid.uuid4())
    resp = _post(env, {"vm_id": vm, "filepath": "/etc/hosts", "snapshot_ids": [missing]})
    assert resp.status_code == 404 and missing in resp.text, resp.text
    # another project sees neither the VM's snapshots nor the searches of demo
    resp = _post(env, {"vm_id": vm, "filepath": "/etc/hosts"}, member(OTHER), OTHER)
    assert resp.status_code == 404, resp.text
    search, _ = _search(env, {"vm_id": vm, "filepath": "/etc/hosts"})
    assert _get(env, search["id"], member(OTHER), OTHER).status_code == 404
    assert _get(env, str(uuid.uuid4())).status_code == 404
    listed = env.cp.request("GET", "/search", OTHER, member(OTHER))
    assert listed.status_code == 200 and listed.json()["file_searches"] == []
    # an administrator acting in demo sees it
    assert _get(env, search["id"], admin(DEMO)).json()["file_search"]["json_resp"] == search["json_resp"]
    # mallory, a member of demo, is refused by the policy file
    mallory = member(DEMO, "mallory")
    resp = _post(env, {"vm_id": vm, "filepath": "/etc/hosts"}, mallory)
    assert resp.status_code == 403 and "snapshot:file_search" in resp.text
    assert _get(env, search["id"], mallory).status_code == 403


def test_list_newest_first_without_results(env: Env) -> None:
    first, _ = _search(env, {"vm_id": env.main.vm_id, "filepath": "/srv/app.yaml"})
    second, _ = _search(env, {"vm_id": env.main.vm_id, "filepath": "/etc/app/config.yaml"})
    resp = env.cp.request("GET", "/search", DEMO, member(DEMO))
    assert resp.status_code == 200, resp.text
    listed = resp.json()["file_searches"]
    ids = [s["id"] for s in listed]
    assert ids.index(second["id"]) < ids.index(first["id"])
    assert all("json_resp" not in s for s in listed)
    one = next(s for s in listed if s["id"] == second["id"])
    assert (one["status"], one["filepath"], one["progress_percent"]) == (
        "completed",
        "/etc/app/config.yaml",
        100,
    )
    resp = env.cp.request("GET", "/search", DEMO, member(DEMO), params={"limit": 1})
    assert [s["id"] for s in resp.json()["file_searches"]] == [ids[0]]


def _insert_search(env: Env, created_at: dt.datetime, host: str | None) -> str:
    search_id = str(uuid.uuid4())
    with sqlite3.connect(env.cp.workdir / "t4o.sqlite") as db:
        db.execute(
            "INSERT INTO file_searches (id, project_id, user_id, vm_id, filepath, criteria, status, host, "
            "progress_percent, json_resp, created_at, updated_at) "
            "VALUES (?, ?, 'alice', ?, '/etc/hosts', '{}', 'executing', ?, 40, '[]', ?, ?)",
            (search_id, DEMO, env.main.vm_id, host, created_at.isoformat(" "), created_at.isoformat(" ")),
        )
    return search_id


def test_a_search_whose_worker_stopped_ends_in_error(env: Env) -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    # taken by a worker that sends no heartbeat
    gone = _insert_search(env, now, "gone-host")
    search = _get(env, gone).json()["file_search"]
    assert search["status"] == "error" and "stopped before it finished" in search["error_msg"], search
    assert "gone-host" in search["error_msg"] and search["finished_at"]
    # never taken, and older than [file_recovery] search_timeout (3600 s by default)
    old = _insert_search(env, now - dt.timedelta(hours=2), None)
    search = _get(env, old).json()["file_search"]
    assert search["status"] == "error" and "search_timeout (3600 s)" in search["error_msg"], search
    # a recent one not yet taken is still executing
    fresh = _insert_search(env, now, None)
    assert _get(env, fresh).json()["file_search"]["status"] == "executing"
    log = env.cp.log("all-in-one")
    assert " status: 500" not in log and "Traceback" not in log, log[-4000:]
