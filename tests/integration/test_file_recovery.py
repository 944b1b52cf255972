"""File-level recovery on devcloud: browse and download files of a snapshot disk straight from the vault.

The guests (ext4 on a bare disk, in a GPT partition, in an MBR partition after a swap area, xfs on a
bare disk, and LVM with ext4 in vg0/root and xfs in vg0/data) and their two snapshots, in which one file
has two versions, are built by tests/integration/file_recovery_disks.py.

Through the REST API as user demo: browse lists the known entries (sizes, types, mtimes, link target) on
every filesystem; the changed file downloads as its first version from snapshot 1 and its second from
snapshot 2, byte for byte against the test's bytes; the big file, Range slices and directory tars equal
the test's tree; the partitioned disks are read from their ext4 partition (chosen by itself, or asked
for) and the swap partition answers 409; the LVs are read by name, the one in pieces answers 409; each
download is logged; project other gets 404 on browse and download with demo's ids. The first (cold)
browse, a warm one (median of three) and the download of the largest file are timed and printed."""

from __future__ import annotations

import io
import posixpath
import tarfile
import time
from typing import Any

import requests
from openstack.connection import Connection

from demo.services import T4OServices
from tests.fixtures.devcloud import Devcloud
from tests.integration.file_recovery_disks import (
    CHANGED,
    DIRS,
    FILES,
    LINK,
    LINK_TARGET,
    LVM_DATA,
    LVM_ROOT,
    MBR_EXT4,
    MTIMES,
    PART_START,
    Guest,
    MiB,
    RecoverySnapshots,
    Volume,
)
from tests.integration.file_recovery_disks import call as call_api

pytest_plugins = ["tests.integration.file_recovery_snapshots"]


def tar_tree(tar: tarfile.TarFile) -> tuple[dict[str, bytes], set[str], dict[str, str]]:
    """A tar's files (path -> bytes), directories and symlinks (path -> target), as absolute paths."""
    files: dict[str, bytes] = {}
    dirs: set[str] = set()
    links: dict[str, str] = {}
    for m in tar:
        norm = posixpath.normpath(m.name)
        name = "/" if norm == "." else "/" + norm
        if m.isfile():
            f = tar.extractfile(m)
            assert f is not None
            files[name] = f.read()
        elif m.isdir():
            dirs.add(name)
        elif m.issym():
            links[name] = m.linkname
    return files, dirs, links


def asked(vol: Volume) -> dict[str, Any]:
    """The query naming a volume: LVs by name; a disk's only filesystem is found without asking."""
    return {"partition": vol.partition} if isinstance(vol.partition, str) else {}


def test_browse_and_download_each_snapshots_own_files(
    devcloud: Devcloud, t4o_services: T4OServices, recovery_snapshots: RecoverySnapshots
) -> None:
    rs = recovery_snapshots
    guests, snap1, snap2, v2 = rs.guests, rs.snap1, rs.snap2, rs.v2
    conn = devcloud.connection("devcloud-demo")
    other = devcloud.connection("devcloud-other")
    started = time.monotonic()
    log_from = len(t4o_services.log("workloadmgr-api"))  # the API's log is the session's: this test's part

    def call(who: Connection, method: str, path: str, **kwargs: Any) -> requests.Response:
        return call_api(t4o_services, who, method, path, **kwargs)

    def disk_url(snap: str, g: Guest) -> str:
        return f"/snapshots/{snap}/vms/{g.server}/disks/vda"

    def browse(snap: str, g: Guest, path: str = "/", **params: Any) -> dict[str, Any]:
        resp = call(conn, "GET", disk_url(snap, g) + "/browse", params={"path": path, **params})
        assert resp.status_code == 200, resp.text
        return dict(resp.json()["browse"])

    def download(
        snap: str, g: Guest, path: str, headers: dict[str, str] | None = None, **params: Any
    ) -> bytes:
        resp = call(
            conn,
            "GET",
            disk_url(snap, g) + "/download",
            params={"path": path, **params},
            headers=headers or {},
        )
        assert resp.status_code == (206 if headers else 200), resp.text
        return resp.content

    # browse: the first call opens the disk (cold), the next ones find it open (the median of three:
    # the machine is shared)
    t0 = time.monotonic()
    root = browse(snap1, guests[0])
    cold = time.monotonic() - t0
    warms = []
    for _ in range(3):
        t0 = time.monotonic()
        assert browse(snap1, guests[0])["entries"] == root["entries"]
        warms.append(time.monotonic() - t0)
    warm = sorted(warms)[1]

    for g in guests:
        for vol in g.volumes:
            where = asked(vol)
            for snap, changed in ((snap1, FILES[CHANGED]), (snap2, v2)):
                listing = browse(snap, g, **where)
                assert listing["path"] == "/"
                assert listing["filesystem"] == vol.filesystem, listing
                if where:
                    chosen = [v for v in listing["volumes"] if v["partition"] == listing["partition"]]
                    assert [(v["table"], v["name"]) for v in chosen] == [("lvm", vol.partition)], listing
                else:
                    assert listing["partition"] == (vol.partition or 0), listing["volumes"]
                entries = {e["name"]: e for e in listing["entries"]}
                expected = {p.lstrip("/") for p in FILES if p.count("/") == 1} | {"nested", "link"}
                assert set(entries) - {"lost+found"} == expected, sorted(entries)
                for path, data in FILES.items():
                    if path.count("/") == 1:
                        e = entries[path[1:]]
                        assert (e["type"], e["size"], e["mode"]) == ("file", len(data), "0644"), e
                        if vol.filesystem == "ext4":  # mkfs.xfs -p gives every file its own creation time
                            assert e["mtime"] == MTIMES[path], e
                assert entries[CHANGED[1:]]["mtime"] == vol.changed_mtime
                assert entries["nested"]["type"] == "directory"
                assert (entries["link"]["type"], entries["link"]["link_target"]) == ("symlink", LINK_TARGET)
                deep = {e["name"]: e for e in browse(snap, g, "/nested/a/b", **where)["entries"]}
                assert set(deep) == {"deep.txt"}
                assert deep["deep.txt"]["size"] == len(FILES["/nested/a/b/deep.txt"])
                if vol.filesystem == "ext4":
                    assert deep["deep.txt"]["mtime"] == MTIMES["/nested/a/b/deep.txt"]
                # each snapshot its own version, byte for byte
                assert download(snap, g, CHANGED, **where) == changed, (g.kind, vol.partition, snap)
                assert download(snap, g, "/link", **where) == FILES["/nested/a/b/deep.txt"]
            # a range of the big file is the exact slice
            big = FILES["/big.bin"]
            assert (
                download(snap2, g, "/big.bin", headers={"Range": "bytes=1000000-1100009"}, **where)
                == big[1000000:1100010]
            )
            assert (
                download(snap1, g, CHANGED, headers={"Range": "bytes=-100"}, **where) == FILES[CHANGED][-100:]
            )

    # the largest file, timed
    t0 = time.monotonic()
    assert download(snap1, guests[0], "/big.bin") == FILES["/big.bin"]
    big_time = time.monotonic() - t0
    assert download(snap2, rs.guest("xfs"), "/big.bin") == FILES["/big.bin"]

    # a directory as a tar whose members are the tree (snapshot 2: the changed file's version 2)
    for g in guests:
        for vol in g.volumes:
            with tarfile.open(fileobj=io.BytesIO(download(snap2, g, "/", **asked(vol))), mode="r:") as tar:
                files, dirs, links = tar_tree(tar)
            assert {p: d for p, d in files.items() if not p.startswith("/lost+found")} == {
                **FILES,
                CHANGED: v2,
            }
            assert dirs - {"/", "/lost+found"} == set(DIRS), g.kind
            assert links == {LINK: LINK_TARGET}
            with tarfile.open(
                fileobj=io.BytesIO(download(snap1, g, "/nested", **asked(vol))), mode="r:"
            ) as tar:
                names = sorted(m.name for m in tar)
                files, _, _ = tar_tree(tar)
            assert names == ["nested", "nested/a", "nested/a/b", "nested/a/b/deep.txt", "nested/note.txt"]
            assert files == {p: d for p, d in FILES.items() if p.startswith("/nested/")}, g.kind

    # the GPT disk: partition 1 asked for gives the same; it has no partition 2
    gpt_guest = rs.guest("gpt")
    part1 = browse(snap1, gpt_guest, "/nested", partition=1)
    assert part1["partition"] == 1 and [v["table"] for v in part1["volumes"] if v["partition"] == 1] == [
        "gpt"
    ]
    assert {e["name"] for e in part1["entries"]} == {"a", "note.txt"}
    assert download(snap2, gpt_guest, CHANGED, partition=1) == v2
    resp = call(conn, "GET", disk_url(snap1, gpt_guest) + "/browse", params={"path": "/", "partition": 2})
    assert resp.status_code == 400, resp.text
    # the MBR disk: its swap partition is listed, not read (409 saying what is there); partition 2 is
    # the filesystem it chose by itself
    mbr_guest = rs.guest("mbr")
    volumes = browse(snap2, mbr_guest)["volumes"]
    assert [(v["partition"], v["table"], v["filesystem"], v["start"]) for v in volumes] == [
        (1, "mbr", "swap", PART_START),
        (2, "mbr", "ext4", MBR_EXT4),
    ], volumes
    resp = call(conn, "GET", disk_url(snap2, mbr_guest) + "/browse", params={"path": "/", "partition": 1})
    assert resp.status_code == 409 and "swap" in resp.text, resp.text
    assert download(snap1, mbr_guest, CHANGED, partition=2) == FILES[CHANGED]
    # the LVM disk: the GPT partition holding the PV, and the LVs where the metadata puts them; the one
    # in two pieces is listed, not read
    lvm_guest = rs.guest("lvm")
    volumes = browse(snap1, lvm_guest, partition="vg0/root")["volumes"]
    assert [(v["table"], v["filesystem"]) for v in volumes if v["table"] != "lvm"] == [("gpt", "lvm2")], (
        volumes
    )
    lvs = {v["name"]: (v["filesystem"], v["start"]) for v in volumes if v["table"] == "lvm"}
    assert set(lvs) == {"vg0/root", "vg0/data", "vg0/small"}, volumes
    assert (lvs["vg0/root"], lvs["vg0/data"], lvs["vg0/small"][0]) == (
        ("ext4", LVM_ROOT),
        ("xfs", LVM_DATA),
        None,
    )
    resp = call(
        conn, "GET", disk_url(snap1, lvm_guest) + "/browse", params={"path": "/", "partition": "vg0/small"}
    )
    assert resp.status_code == 409 and "vg0/small" in resp.text, resp.text
    resp = call(
        conn, "GET", disk_url(snap1, lvm_guest) + "/browse", params={"path": "/", "partition": "vg0/nope"}
    )
    assert resp.status_code == 400, resp.text

    # what HTTP says about a file, a range, a range outside the file, a path that is not there
    url = disk_url(snap2, guests[0]) + "/download"
    resp = call(conn, "GET", url, params={"path": "/big.bin"}, headers={"Range": "bytes=1048576-"})
    size = len(FILES["/big.bin"])
    assert resp.status_code == 206 and resp.content == FILES["/big.bin"][MiB:]
    assert resp.headers["Content-Range"] == f"bytes {MiB}-{size - 1}/{size}"
    assert resp.headers["Content-Length"] == str(size - MiB)
    assert 'filename="big.bin"' in resp.headers["Content-Disposition"]
    resp = call(conn, "GET", url, params={"path": CHANGED}, headers={"Range": f"bytes={len(v2)}-"})
    assert resp.status_code == 416 and resp.headers["Content-Range"] == f"bytes */{len(v2)}", resp.text
    resp = call(conn, "GET", url, params={"path": "/nested"}, headers={"Range": "bytes=0-9"})
    assert resp.status_code == 400, resp.text
    for op in ("browse", "download"):
        resp = call(conn, "GET", disk_url(snap2, guests[0]) + f"/{op}", params={"path": "/no/such/file"})
        assert resp.status_code == 404, resp.text
    resp = call(conn, "GET", disk_url(snap2, guests[0]) + "/browse", params={"path": CHANGED})
    assert resp.status_code == 400, resp.text

    # each download is logged with who took what; no server error anywhere
    api_log = t4o_services.log("workloadmgr-api")[log_from:]
    assert (
        f"download by user {conn.current_user_id} of project {conn.current_project_id}: snapshot {snap1}"
        in api_log
    )
    assert f"(file {CHANGED}, bytes 0-{len(v2) - 1} of {len(v2)}), {len(v2)} bytes sent (complete)" in api_log
    assert "Traceback" not in api_log

    # isolation: project other sees none of it
    for snap in (snap1, snap2):
        for g, params in ((guests[0], {}), (lvm_guest, {"partition": "vg0/root"})):
            for op in ("browse", "download"):
                resp = call(
                    other,
                    "GET",
                    f"{disk_url(snap, g)}/{op}",
                    params={"path": CHANGED if op == "download" else "/", **params},
                )
                assert resp.status_code == 404, (op, resp.status_code, resp.text[:200])
                assert FILES[CHANGED][:64] not in resp.content and v2[:64] not in resp.content

    print(
        f"\n[files] first (cold) browse {cold * 1000:.0f} ms, warm browse {warm * 1000:.0f} ms, "
        f"download of {len(FILES['/big.bin'])} bytes {big_time * 1000:.0f} ms; "
        f"checks {time.monotonic() - started:.1f} s"
    )
    assert root["entries"]
