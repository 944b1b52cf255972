"""Backup and restore of real disk images: raw, qcow2 through qemu-img, a loop block device, ext4."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from t4o.vault import PosixBackend, Repository
from t4o.vault.manifest import digest_of

from .conftest import MiB, need, write_disk


def sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(4 * MiB):
            h.update(block)
    return h.hexdigest()


@pytest.fixture
def repo(tmp_path) -> Repository:
    return Repository.init(PosixBackend(tmp_path / "repo"))


def test_raw_round_trip_is_sparse_and_checked(repo, tmp_path):
    disk = write_disk(tmp_path / "disk.raw", 24)
    m = repo.backup_disk(disk, "vda")
    assert m.stats["zero_blocks"] == 0 and m.chunks.count(None) == 6  # holes were never read
    assert m.stats["read_bytes"] == 18 * MiB
    out = tmp_path / "out.raw"
    repo.restore_disk(m.ref, out)
    assert sha(out) == sha(disk)
    assert out.stat().st_blocks * 512 <= 18 * MiB + 64 * 1024  # zero blocks left as holes


def test_qcow2_in_and_out_with_qemu_img(repo, tmp_path):
    need("qemu-img")
    raw = write_disk(tmp_path / "disk.raw", 16, seed=3)
    qcow = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", str(raw), str(qcow)], check=True)
    m = repo.backup_disk(qcow, "vda")
    assert m.source_format == "qcow2"
    assert m.checksum == repo.backup_disk(raw, "vdb").checksum  # the same logical disk
    out = tmp_path / "out.qcow2"
    repo.restore_disk(m.ref, out, fmt="qcow2")
    info = subprocess.run(["qemu-img", "info", "--output=json", str(out)], capture_output=True, text=True)
    assert '"format": "qcow2"' in info.stdout
    cmp = subprocess.run(["qemu-img", "compare", str(raw), str(out)], capture_output=True, text=True)
    assert cmp.returncode == 0, cmp.stdout + cmp.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".t4o-restore-")]


def test_ext4_image_incremental_with_extents_from_qemu_img_map(repo, tmp_path):
    need("mke2fs")
    files = tmp_path / "files"
    files.mkdir()
    for i in range(40):
        (files / f"f{i}").write_bytes(os.urandom(100_000) + b"text " * 20_000)
    img = tmp_path / "fs.img"
    subprocess.run(["mke2fs", "-q", "-t", "ext4", "-d", str(files), str(img), "64M"], check=True)
    m1 = repo.backup_disk(img, "vda")
    # overwrite 1% of the image in place and describe the change as an extent list
    changed = [(5 * MiB + 4096, 65536), (40 * MiB, 4096)]
    with open(img, "r+b") as f:
        for off, n in changed:
            f.seek(off)
            f.write(os.urandom(n))
    m2 = repo.backup_disk(img, "vda", parent=m1.ref, changed_extents=changed)
    assert m2.stats["read_bytes"] == 2 * MiB
    # Only the 64 KiB pieces the writes touched are stored: 2 in block 5, 1 in block 40.
    assert (m2.stats["patched_blocks"], m2.stats["new_pieces"]) == (2, 3)
    assert m2.stats["new_bytes"] < 4 * 65536
    m3 = repo.backup_disk(img, "vda", parent=m1.ref)  # no extent list: reads all, same disk
    assert [digest_of(e) for e in m3.chunks] == [digest_of(e) for e in m2.chunks]
    assert m3.checksum == m2.checksum
    out = tmp_path / "out.img"
    repo.restore_disk(m2.ref, out)
    assert sha(out) == sha(img)
    fsck = subprocess.run(["e2fsck", "-fn", str(out)], capture_output=True, text=True)
    assert fsck.returncode in (0, 4), fsck.stdout  # the random overwrite may damage fs data, not ours
    # the first snapshot is still the first disk
    repo.restore_disk(m1.ref, tmp_path / "old.img")
    assert subprocess.run(["e2fsck", "-fn", str(tmp_path / "old.img")], capture_output=True).returncode == 0


def test_block_device_round_trip(repo, tmp_path):
    need("losetup")
    disk = write_disk(tmp_path / "disk.raw", 8, seed=5)
    target_file = tmp_path / "target.raw"
    with open(target_file, "wb") as f:
        f.write(b"\xff" * 8 * MiB)  # garbage that zero blocks must overwrite on a device
    devs = []
    try:
        for path in (disk, target_file):
            proc = subprocess.run(["losetup", "--find", "--show", str(path)], capture_output=True, text=True)
            assert proc.returncode == 0, f"losetup failed: {proc.stderr}"
            devs.append(proc.stdout.strip())
        m = repo.backup_disk(devs[0], "vda")
        assert m.size == 8 * MiB
        repo.restore_disk(m.ref, devs[1])
    finally:
        for dev in devs:
            subprocess.run(["losetup", "-d", dev], check=False)
    assert sha(target_file) == sha(disk)


def test_read_range_across_blocks(repo, tmp_path):
    disk = write_disk(tmp_path / "disk.raw", 6, seed=9)
    m = repo.backup_disk(disk, "vda")
    data = disk.read_bytes()
    for off, n in ((0, 10), (MiB - 3, 10), (MiB + 5, 3 * MiB), (6 * MiB - 1, 1), (MiB, 0)):
        assert repo.read_range(m.ref, off, n) == data[off : off + n]


def test_qcow2_through_the_datamover_file_source(repo, tmp_path):
    """The datamover's qemu-nbd source object is accepted as is (no temporary raw copy)."""
    need("qemu-nbd")
    from t4o.datamover.disks.file_source import FileDiskSource

    raw = write_disk(tmp_path / "disk.raw", 8, seed=13)
    qcow = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", str(raw), str(qcow)], check=True)
    with FileDiskSource(str(qcow)) as src:
        m = repo.backup_disk(src, "vda")
    assert m.checksum == repo.backup_disk(raw, "vdb").checksum
    out = tmp_path / "out.raw"
    repo.restore_disk(m.ref, out)
    assert sha(out) == sha(raw)
