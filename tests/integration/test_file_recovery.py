"""File-level recovery on devcloud: browse and download files of a snapshot disk straight from the vault.

The test builds its guests' disks itself, without root or loop devices: an ext4 filesystem on a bare
disk, the same ext4 in partition 1 of a GPT disk and in partition 2 of an MBR disk (a swap area in
partition 1), and an xfs filesystem on a bare disk, each holding files the test knows (one over 1 MiB,
nested directories, a symlink, known mtimes on ext4). Each disk goes to Glance as a private image of
project demo and a server boots from it (devcloud guests run no OS: the disk is what matters).
Snapshot 1 (full); then one file's data blocks, found in the test's own image (debugfs, xfs_db), are
overwritten in the running servers' disks through QEMU with new bytes of the same length; snapshot 2
(incremental).

Through the REST API as user demo: browse lists the known entries (sizes, types, mtimes, link target);
the changed file downloads as its first version from snapshot 1 and its second from snapshot 2, byte
for byte against the test's bytes; the big file, Range slices and directory tars equal the test's
tree; the partitioned disks are read from their ext4 partition (chosen by itself, or asked for) and
the swap partition answers 409; each download is logged; project other gets 404 on browse and
download with demo's ids. The first (cold) browse, a warm one (median of three) and the download of
the largest file are timed and printed."""

from __future__ import annotations

import io
import os
import posixpath
import random
import re
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from openstack.connection import Connection

from demo.guest import write_guest
from demo.services import T4OServices
from tests.fixtures.devcloud import Devcloud
from tests.integration.test_restore_without_source import Leftovers

MiB = 1 << 20
BLOCK = 4096
PART_START = 1 * MiB  # partition 1 of the GPT disk: sector 2048
MBR_SWAP = 8 * MiB  # the MBR disk: swap in partition 1 (at 1 MiB), the ext4 in partition 2 after it
MBR_EXT4 = PART_START + MBR_SWAP

# the tree every guest disk holds: path -> bytes (files), with its mtime
CHANGED = "/changed.bin"
FILES: dict[str, bytes] = {
    "/hello.txt": b"hello from a snapshot disk\n",
    CHANGED: random.Random(1).randbytes(10_000),  # 3 blocks, the last one partly used
    "/big.bin": random.Random(2).randbytes(MiB + 300_123),
    "/empty": b"",
    "/nested/note.txt": b"a note one level down\n" * 10,
    "/nested/a/b/deep.txt": b"deep down\n" * 500,
}
DIRS = ["/nested", "/nested/a", "/nested/a/b"]
LINK, LINK_TARGET = "/link", "nested/a/b/deep.txt"
MTIMES = {path: 1_600_000_000 + 86_400 * i for i, path in enumerate(sorted(FILES))}
SEED_V2 = 0x14


def run(*args: str | Path, stdin: str | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], input=stdin, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"{args[0]} failed: {done.stderr or done.stdout}"
    return done.stdout


def make_tree(root: Path) -> None:
    for d in DIRS:
        (root / d.lstrip("/")).mkdir(parents=True, exist_ok=True)
    for path, data in FILES.items():
        (root / path.lstrip("/")).write_bytes(data)
        os.utime(root / path.lstrip("/"), (MTIMES[path], MTIMES[path]))
    (root / LINK.lstrip("/")).symlink_to(LINK_TARGET)


def make_ext4(tree: Path, img: Path) -> list[int]:
    """An ext4 image of the tree; returns the byte offsets in it of CHANGED's data blocks."""
    run("mke2fs", "-q", "-F", "-t", "ext4", "-b", str(BLOCK), "-d", tree, "-E", "root_owner=0:0", img, "64M")
    out = run("debugfs", "-R", f"blocks {CHANGED}", img)
    return [int(b) * BLOCK for b in out.split()]


def make_gpt(ext4: Path, img: Path) -> None:
    """A GPT disk whose partition 1 (at 1 MiB) holds the ext4 image."""
    with img.open("wb") as f:
        f.truncate(72 * MiB)
    size = ext4.stat().st_size // 512
    run("sfdisk", "-q", img, stdin=f"label: gpt\nstart=2048, size={size}, type=linux, name=data\n")
    run("dd", f"if={ext4}", f"of={img}", "bs=1M", f"seek={PART_START // MiB}", "conv=notrunc", "status=none")


def make_mbr(ext4: Path, img: Path) -> None:
    """An MBR disk: partition 1 a swap area (no filesystem to read), partition 2 the ext4 image."""
    swap = img.with_suffix(".swap")
    with swap.open("wb") as f:
        f.truncate(MBR_SWAP)
    run("mkswap", "-q", swap)
    with img.open("wb") as f:
        f.truncate(80 * MiB)
    size = ext4.stat().st_size // 512
    table = [f"start=2048, size={MBR_SWAP // 512}, type=82", f"start={MBR_EXT4 // 512}, size={size}, type=83"]
    run("sfdisk", "-q", img, stdin="\n".join(["label: dos", *table, ""]))
    for part, at in ((swap, PART_START), (ext4, MBR_EXT4)):
        run("dd", f"if={part}", f"of={img}", "bs=1M", f"seek={at // MiB}", "conv=notrunc", "status=none")


def make_xfs(tree: Path, img: Path) -> list[int]:
    """An xfs image of the tree (mkfs.xfs -p protofile); returns the byte offsets of CHANGED's blocks."""

    def proto(d: Path, depth: int) -> list[str]:
        lines = []
        for child in sorted(d.iterdir()):
            if child.is_symlink():
                lines.append(f"{child.name} l--777 0 0 {os.readlink(child)}")
            elif child.is_dir():
                lines += [f"{child.name} d--755 0 0", *proto(child, depth + 1), "$"]
            else:
                lines.append(f"{child.name} ---644 0 0 {child}")
        return lines

    spec = img.with_suffix(".proto")
    spec.write_text("\n".join(["/dev/null", "0 0", "d--755 0 0", *proto(tree, 0), "$", ""]))
    with img.open("wb") as f:
        f.truncate(320 * MiB)  # xfs's smallest filesystem is 300 MiB
    run("mkfs.xfs", "-q", "-b", f"size={BLOCK}", "-p", spec, img)
    agblocks = int(run("xfs_db", "-r", "-c", "sb 0", "-c", "p agblocks", img).split("=")[1])
    bmap = run("xfs_db", "-r", "-c", f"path {CHANGED}", "-c", "bmap", img)
    offsets: list[int] = []
    # "data offset 0 startblock 24 (0/24) count 3 flag 0"
    for off, ag, agbno, count in re.findall(r"offset (\d+) startblock \d+ \((\d+)/(\d+)\) count (\d+)", bmap):
        first = (int(ag) * agblocks + int(agbno)) * BLOCK
        offsets += [first + i * BLOCK for i in range(int(count))]
        assert int(off) * BLOCK == (len(offsets) - int(count)) * BLOCK, bmap
    return offsets


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


@dataclass
class Guest:
    kind: str  # ext4, gpt, mbr, xfs
    image: Path  # raw
    changed_at: list[int]  # disk byte offsets of CHANGED's blocks
    server: str = ""
    v2: bytes = b""  # the changed file's version 2, as written into the server's disk


@pytest.fixture
def leftovers(devcloud: Devcloud) -> Iterator[Leftovers]:
    left = Leftovers(devcloud.connection("devcloud-demo"))
    try:
        yield left
    finally:
        left.remove()


def test_browse_and_download_each_snapshots_own_files(
    devcloud: Devcloud, t4o_services: T4OServices, leftovers: Leftovers, tmp_path: Path
) -> None:
    conn = leftovers.conn
    other = devcloud.connection("devcloud-other")
    tag = f"t4o-files-{uuid.uuid4().hex[:6]}"
    started = time.monotonic()
    token, project = str(conn.auth_token), str(conn.current_project_id)
    log_from = len(t4o_services.log("workloadmgr-api"))  # the API's log is the session's: this test's part

    def call(who: Connection, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"X-Auth-Token": who.auth_token, **kwargs.pop("headers", {})}
        url = f"{t4o_services.url}/v1/{who.current_project_id}{path}"
        return requests.request(method, url, headers=headers, timeout=120, **kwargs)

    def api(method: str, path: str, **kwargs: Any) -> Any:
        return t4o_services.request(method, path, token, project, **kwargs)

    # the disks, built here from a tree the test knows
    tree = tmp_path / "tree"
    make_tree(tree)
    ext4 = tmp_path / "ext4.img"
    ext4_blocks = make_ext4(tree, ext4)
    assert len(ext4_blocks) == 3, ext4_blocks
    gpt = tmp_path / "gpt.img"
    make_gpt(ext4, gpt)
    guests = [
        Guest("ext4", ext4, ext4_blocks),
        Guest("gpt", gpt, [PART_START + b for b in ext4_blocks]),
    ]
    mbr = tmp_path / "mbr.img"
    make_mbr(ext4, mbr)
    guests.append(Guest("mbr", mbr, [MBR_EXT4 + b for b in ext4_blocks]))
    xfs = tmp_path / "xfs.img"
    guests.append(Guest("xfs", xfs, make_xfs(tree, xfs)))
    for g in guests:  # the test's reading of its own images: the blocks hold version 1
        with g.image.open("rb") as f:
            got = b""
            for off in g.changed_at:
                f.seek(off)
                got += f.read(BLOCK)
        assert got[: len(FILES[CHANGED])] == FILES[CHANGED], g.kind

    # images of project demo, a server booted from each
    flavor = conn.compute.find_flavor("devcloud.tiny", ignore_missing=False)
    for g in guests:
        qcow2 = g.image.with_suffix(".qcow2")
        run("qemu-img", "convert", "-f", "raw", "-O", "qcow2", g.image, qcow2)
        image = conn.image.create_image(
            name=f"{tag}-{g.kind}", data=qcow2.read_bytes(), disk_format="qcow2", container_format="bare",
            visibility="private", wait=True, timeout=120,
        )  # fmt: skip
        leftovers.images.append(image.id)
        srv = conn.compute.create_server(
            name=f"{tag}-{g.kind}", flavor_id=flavor.id, image_id=image.id, networks="none"
        )
        leftovers.servers.append(srv.id)
        g.server = srv.id
    for g in guests:
        conn.compute.wait_for_server(conn.compute.get_server(g.server), wait=300)
    print(f"\n[files] disks built, images uploaded, servers active: {time.monotonic() - started:.1f} s")

    wl = api(
        "POST", "/workloads",
        json={"workload": {"name": tag, "instances": [{"instance-id": g.server} for g in guests]}},
    )["workload"]  # fmt: skip

    def snapshot(full: bool) -> str:
        snap = api(
            "POST", f"/workloads/{wl['id']}", params={"full": "1"} if full else {},
            json={"snapshot": {"name": "full" if full else "incr"}},
        )["snapshot"]  # fmt: skip
        job = t4o_services.wait_job("snapshot", snap["id"], token, project)
        assert job["status"] == "available", job.get("error_msg")
        return str(snap["id"])

    snap1 = snapshot(full=True)
    # version 2 of the changed file, written into its blocks as a guest would, same length
    size = len(FILES[CHANGED])
    for g in guests:
        for i, off in enumerate(g.changed_at):
            g.v2 += write_guest(
                devcloud.libvirt_uri, g.server, off, min(BLOCK, size - i * BLOCK), SEED_V2 + i
            )
        assert len(g.v2) == size and g.v2 != FILES[CHANGED]
    v2 = guests[0].v2
    assert all(g.v2 == v2 for g in guests)
    snap2 = snapshot(full=False)
    assert api("GET", f"/snapshots/{snap2}")["snapshot"]["snapshot_type"] == "incremental"
    print(f"[files] two snapshots done: {time.monotonic() - started:.1f} s")

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
        for snap, changed in ((snap1, FILES[CHANGED]), (snap2, v2)):
            listing = browse(snap, g)
            assert listing["path"] == "/"
            assert listing["filesystem"] == ("xfs" if g.kind == "xfs" else "ext4"), listing
            assert listing["partition"] == {"gpt": 1, "mbr": 2}.get(g.kind, 0), listing["volumes"]
            entries = {e["name"]: e for e in listing["entries"]}
            expected = {p.lstrip("/") for p in FILES if p.count("/") == 1} | {"nested", "link"}
            assert set(entries) - {"lost+found"} == expected, sorted(entries)
            for path, data in FILES.items():
                if path.count("/") == 1:
                    e = entries[path[1:]]
                    assert (e["type"], e["size"], e["mode"]) == ("file", len(data), "0644"), e
                    if g.kind != "xfs":  # mkfs.xfs -p gives every file its own creation time
                        assert e["mtime"] == MTIMES[path], e
            assert entries["nested"]["type"] == "directory"
            assert (entries["link"]["type"], entries["link"]["link_target"]) == ("symlink", LINK_TARGET)
            deep = {e["name"]: e for e in browse(snap, g, "/nested/a/b")["entries"]}
            assert set(deep) == {"deep.txt"}
            assert deep["deep.txt"]["size"] == len(FILES["/nested/a/b/deep.txt"])
            if g.kind != "xfs":
                assert deep["deep.txt"]["mtime"] == MTIMES["/nested/a/b/deep.txt"]
            # each snapshot its own version, byte for byte
            assert download(snap, g, CHANGED) == changed, (g.kind, snap)
            assert download(snap, g, "/link") == FILES["/nested/a/b/deep.txt"]
        # a range of the big file is the exact slice
        big = FILES["/big.bin"]
        assert (
            download(snap2, g, "/big.bin", headers={"Range": "bytes=1000000-1100009"}) == big[1000000:1100010]
        )
        assert download(snap1, g, CHANGED, headers={"Range": "bytes=-100"}) == FILES[CHANGED][-100:]

    # the largest file, timed
    t0 = time.monotonic()
    assert download(snap1, guests[0], "/big.bin") == FILES["/big.bin"]
    big_time = time.monotonic() - t0
    assert download(snap2, guests[-1], "/big.bin") == FILES["/big.bin"]

    # a directory as a tar whose members are the tree (snapshot 2: the changed file's version 2)
    for g in guests:
        with tarfile.open(fileobj=io.BytesIO(download(snap2, g, "/")), mode="r:") as tar:
            files, dirs, links = tar_tree(tar)
        assert {p: d for p, d in files.items() if not p.startswith("/lost+found")} == {**FILES, CHANGED: v2}
        assert dirs - {"/", "/lost+found"} == set(DIRS), g.kind
        assert links == {LINK: LINK_TARGET}
        with tarfile.open(fileobj=io.BytesIO(download(snap1, g, "/nested")), mode="r:") as tar:
            names = sorted(m.name for m in tar)
            files, _, _ = tar_tree(tar)
        assert names == ["nested", "nested/a", "nested/a/b", "nested/a/b/deep.txt", "nested/note.txt"]
        assert files == {p: d for p, d in FILES.items() if p.startswith("/nested/")}, g.kind

    # the GPT disk: partition 1 asked for gives the same; it has no partition 2
    gpt_guest = guests[1]
    asked = browse(snap1, gpt_guest, "/nested", partition=1)
    assert asked["partition"] == 1 and [v["table"] for v in asked["volumes"] if v["partition"] == 1] == [
        "gpt"
    ]
    assert {e["name"] for e in asked["entries"]} == {"a", "note.txt"}
    assert download(snap2, gpt_guest, CHANGED, partition=1) == v2
    resp = call(conn, "GET", disk_url(snap1, gpt_guest) + "/browse", params={"path": "/", "partition": 2})
    assert resp.status_code == 400, resp.text
    # the MBR disk: its swap partition is listed, not read (409 saying what is there); partition 2 is
    # the filesystem it chose by itself
    mbr_guest = next(g for g in guests if g.kind == "mbr")
    volumes = browse(snap2, mbr_guest)["volumes"]
    assert [(v["partition"], v["table"], v["filesystem"], v["start"]) for v in volumes] == [
        (1, "mbr", "swap", PART_START),
        (2, "mbr", "ext4", MBR_EXT4),
    ], volumes
    resp = call(conn, "GET", disk_url(snap2, mbr_guest) + "/browse", params={"path": "/", "partition": 1})
    assert resp.status_code == 409 and "swap" in resp.text, resp.text
    assert download(snap1, mbr_guest, CHANGED, partition=2) == FILES[CHANGED]

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
        for op in ("browse", "download"):
            resp = call(
                other,
                "GET",
                f"{disk_url(snap, guests[0])}/{op}",
                params={"path": CHANGED if op == "download" else "/"},
            )
            assert resp.status_code == 404, (op, resp.status_code, resp.text[:200])
            assert FILES[CHANGED][:64] not in resp.content and v2[:64] not in resp.content

    print(
        f"[files] first (cold) browse {cold * 1000:.0f} ms, warm browse {warm * 1000:.0f} ms, "
        f"download of {len(FILES['/big.bin'])} bytes {big_time * 1000:.0f} ms; "
        f"total {time.monotonic() - started:.1f} s"
    )
    assert root["entries"]
