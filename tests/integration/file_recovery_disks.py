"""The guests of the file recovery tests and their two snapshots, built once per test run.

The disks are built here without root or loop devices, from a tree of files the tests know: an ext4
filesystem on a bare disk, the same ext4 in partition 1 of a GPT disk and in partition 2 of an MBR disk
(a swap area in partition 1), an xfs filesystem on a bare disk, and an LVM disk (GPT, one PV, volume
group vg0) with the ext4 in LV vg0/root and an xfs in LV vg0/data. Each disk goes to Glance as a private
image of project demo and a server boots from it (devcloud guests run no OS: the disk is what matters).
Snapshot 1 (full); then the changed file's data blocks, found in the test's own images (debugfs, xfs_db),
are overwritten in the running servers' disks through QEMU with version 2 of the file (same length);
snapshot 2 (incremental).

The session fixture ``recovery_snapshots`` (tests/integration/file_recovery_snapshots.py) builds them once
for every test module that reads them."""

from __future__ import annotations

import datetime as dt
import gzip
import os
import random
import re
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

# The first 1,088 KiB of a 400 MiB disk as LVM 2.03.16 wrote them (GPT, PV label, metadata of vg0 with
# LVs root 68 MiB at extent 0, data 300 MiB at extent 19, small 16 MiB in two pieces): see
# tests/functional/filerecovery/test_lvm.py for how it was made. Partition 1 starts at 64 KiB, the
# extents (4 MiB) after the PV's 1 MiB metadata area.
LVM_HEAD = (
    Path(__file__).resolve().parents[1] / "functional" / "filerecovery" / "data" / "lvm-gpt-head.bin.gz"
)
LVM_DISK = 400 * MiB
LVM_PV = 64 * 1024
LVM_EXTENT = 4 * MiB
LVM_ROOT = LVM_PV + MiB  # vg0/root: extent 0
LVM_DATA = LVM_ROOT + 19 * LVM_EXTENT  # vg0/data: extent 19
LVM_DATA_SIZE = 300 * MiB

# the tree every filesystem holds: path -> bytes (files), with its mtime
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


def version_2() -> bytes:
    """The changed file's version 2 as the test writes it: block i holds write_guest's bytes of seed
    SEED_V2 + i (the last block only the file's part of it)."""
    size = len(FILES[CHANGED])
    return b"".join(
        random.Random(SEED_V2 + i).randbytes(min(BLOCK, size - off))
        for i, off in enumerate(range(0, size, BLOCK))
    )


def call(services: T4OServices, who: Connection, method: str, path: str, **kwargs: Any) -> requests.Response:
    """A workloadmgr API call below /v1/{project} as a user of devcloud; the answer as it came."""
    headers = {"X-Auth-Token": who.auth_token, **kwargs.pop("headers", {})}
    url = f"{services.url}/v1/{who.current_project_id}{path}"
    return requests.request(method, url, headers=headers, timeout=120, **kwargs)


def run(*args: str | Path, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], input=stdin, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, **env} if env else None,
    )  # fmt: skip
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


def place(part: Path, img: Path, at: int) -> None:
    """Write a filesystem image into a disk image at byte ``at`` (a MiB multiple), leaving its holes."""
    assert at % MiB == 0, at
    run("dd", f"if={part}", f"of={img}", "bs=1M", f"seek={at // MiB}", "conv=notrunc,sparse", "status=none")


def make_gpt(ext4: Path, img: Path) -> None:
    """A GPT disk whose partition 1 (at 1 MiB) holds the ext4 image."""
    with img.open("wb") as f:
        f.truncate(72 * MiB)
    size = ext4.stat().st_size // 512
    run("sfdisk", "-q", img, stdin=f"label: gpt\nstart=2048, size={size}, type=linux, name=data\n")
    place(ext4, img, PART_START)


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
    place(swap, img, PART_START)
    place(ext4, img, MBR_EXT4)


def make_xfs(tree: Path, img: Path, mib: int = 320) -> list[int]:
    """An xfs image of the tree (mkfs.xfs -p protofile); returns the byte offsets of CHANGED's blocks.
    xfs's smallest filesystem is 300 MiB."""

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
        f.truncate(mib * MiB)
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


def xfs_mtime(img: Path, path: str) -> int:
    """A file's mtime in an xfs image as xfs_db reads it (mkfs.xfs -p gives each file its creation time)."""
    out = run("xfs_db", "-r", "-c", f"path {path}", "-c", "print core.mtime.sec", img, env={"TZ": "UTC"})
    # "core.mtime.sec = Mon Dec  7 08:08:37 2026"
    when = dt.datetime.strptime(" ".join(out.split("=", 1)[1].split()), "%a %b %d %H:%M:%S %Y")
    return int(when.replace(tzinfo=dt.UTC).timestamp())


def make_lvm(ext4: Path, xfs: Path, img: Path) -> None:
    """A disk of LVM volume group vg0: the ext4 image in LV vg0/root, the xfs image in LV vg0/data."""
    assert ext4.stat().st_size <= 68 * MiB and xfs.stat().st_size == LVM_DATA_SIZE
    with img.open("wb") as f:
        f.truncate(LVM_DISK)
        f.write(gzip.decompress(LVM_HEAD.read_bytes()))
    # the LVs do not start on a MiB boundary (the PV is at 64 KiB): written with Python, holes left
    for part, at in ((ext4, LVM_ROOT), (xfs, LVM_DATA)):
        with part.open("rb") as src, img.open("r+b") as dst:
            pos = 0
            while chunk := src.read(MiB):
                if chunk.count(0) != len(chunk):
                    dst.seek(at + pos)
                    dst.write(chunk)
                pos += len(chunk)


def read_at(img: Path, offsets: list[int], length: int) -> bytes:
    """``length`` bytes of a file whose blocks are at ``offsets`` in an image."""
    out = b""
    with img.open("rb") as f:
        for off in offsets:
            f.seek(off)
            out += f.read(BLOCK)
    return out[:length]


@dataclass(frozen=True)
class Volume:
    """One filesystem of a guest disk, as the test made it."""

    partition: int | str | None  # where: None a bare disk, a partition number, an LV name "vg0/root"
    filesystem: str  # ext4 or xfs
    changed_at: list[int]  # disk byte offsets of CHANGED's blocks
    changed_mtime: int  # CHANGED's mtime (both versions: only the data blocks change)


@dataclass
class Guest:
    kind: str  # ext4, gpt, mbr, xfs, lvm
    image: Path  # raw
    volumes: list[Volume]
    server: str = ""


@dataclass
class RecoverySnapshots:
    """The guests, their workload and its two snapshots: snapshot 1 holds CHANGED's FILES version, snapshot
    2 its version 2 (``v2``)."""

    guests: list[Guest]
    workload_id: str
    snap1: str
    snap2: str
    tag: str
    v2: bytes = field(default_factory=version_2)

    def guest(self, kind: str) -> Guest:
        return next(g for g in self.guests if g.kind == kind)


def build_guests(tmp: Path) -> list[Guest]:
    tree = tmp / "tree"
    make_tree(tree)
    ext4 = tmp / "ext4.img"
    ext4_blocks = make_ext4(tree, ext4)
    assert len(ext4_blocks) == 3, ext4_blocks
    ext4_mtime = MTIMES[CHANGED]
    gpt, mbr, xfs, lvm = tmp / "gpt.img", tmp / "mbr.img", tmp / "xfs.img", tmp / "lvm.img"
    make_gpt(ext4, gpt)
    make_mbr(ext4, mbr)
    xfs_blocks = make_xfs(tree, xfs)
    lvm_xfs = tmp / "lvm-data.img"
    lvm_xfs_blocks = make_xfs(tree, lvm_xfs, mib=LVM_DATA_SIZE // MiB)
    make_lvm(ext4, lvm_xfs, lvm)
    guests = [
        Guest("ext4", ext4, [Volume(None, "ext4", ext4_blocks, ext4_mtime)]),
        Guest("gpt", gpt, [Volume(1, "ext4", [PART_START + b for b in ext4_blocks], ext4_mtime)]),
        Guest("mbr", mbr, [Volume(2, "ext4", [MBR_EXT4 + b for b in ext4_blocks], ext4_mtime)]),
        Guest("xfs", xfs, [Volume(None, "xfs", xfs_blocks, xfs_mtime(xfs, CHANGED))]),
        Guest(
            "lvm",
            lvm,
            [
                Volume("vg0/root", "ext4", [LVM_ROOT + b for b in ext4_blocks], ext4_mtime),
                Volume(
                    "vg0/data", "xfs", [LVM_DATA + b for b in lvm_xfs_blocks], xfs_mtime(lvm_xfs, CHANGED)
                ),
            ],
        ),
    ]
    for g in guests:  # the test's reading of its own images: the blocks hold version 1
        for vol in g.volumes:
            assert read_at(g.image, vol.changed_at, len(FILES[CHANGED])) == FILES[CHANGED], (g.kind, vol)
    return guests


def make_snapshots(
    devcloud: Devcloud, t4o_services: T4OServices, left: Leftovers, tmp: Path
) -> RecoverySnapshots:
    conn = left.conn
    tag = f"t4o-files-{uuid.uuid4().hex[:6]}"
    started = time.monotonic()
    token, project = str(conn.auth_token), str(conn.current_project_id)

    def api(method: str, path: str, **kwargs: Any) -> Any:
        return t4o_services.request(method, path, token, project, **kwargs)

    guests = build_guests(tmp)
    # images of project demo, a server booted from each
    flavor = conn.compute.find_flavor("devcloud.tiny", ignore_missing=False)
    for g in guests:
        qcow2 = g.image.with_suffix(".qcow2")
        run("qemu-img", "convert", "-f", "raw", "-O", "qcow2", g.image, qcow2)
        image = conn.image.create_image(
            name=f"{tag}-{g.kind}", data=qcow2.read_bytes(), disk_format="qcow2", container_format="bare",
            visibility="private", wait=True, timeout=120,
        )  # fmt: skip
        left.images.append(image.id)
        srv = conn.compute.create_server(
            name=f"{tag}-{g.kind}", flavor_id=flavor.id, image_id=image.id, networks="none"
        )
        left.servers.append(srv.id)
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
    v2, size = version_2(), len(FILES[CHANGED])
    assert v2 != FILES[CHANGED]
    for g in guests:
        for vol in g.volumes:
            written = b"".join(
                write_guest(devcloud.libvirt_uri, g.server, off, min(BLOCK, size - i * BLOCK), SEED_V2 + i)
                for i, off in enumerate(vol.changed_at)
            )
            assert written == v2, (g.kind, vol.partition)
    snap2 = snapshot(full=False)
    assert api("GET", f"/snapshots/{snap2}")["snapshot"]["snapshot_type"] == "incremental"
    print(f"[files] two snapshots done: {time.monotonic() - started:.1f} s")
    return RecoverySnapshots(guests, str(wl["id"]), snap1, snap2, tag)
