"""Image files as sources (raw, qcow2, qcow2 over a backing file) and as restore targets."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from t4o.datamover.disks import DiskError, FileDiskSource, copy_disk, create_file_writer, open_file_writer
from tests.functional.datamover.scratch_domains import MiB, image_sha256, read_all, read_extents

pytestmark = pytest.mark.timeout(120)


def qemu_io(path: str, fmt: str, *commands: str) -> None:
    args = ["qemu-io", "-f", fmt]
    for c in commands:
        args += ["-c", c]
    subprocess.run([*args, path], check=True, capture_output=True)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def allocated(path: str) -> list[tuple[int, int]]:
    out = subprocess.run(
        ["qemu-img", "map", "--output=json", path], capture_output=True, text=True, check=True
    )
    return [(e["start"], e["length"]) for e in json.loads(out.stdout) if e["data"]]


@pytest.fixture
def images(tmp_path: Path) -> dict[str, str]:
    raw, qcow, base, top = (str(tmp_path / n) for n in ("d.raw", "d.qcow2", "base.qcow2", "top.qcow2"))
    writes = ("write -P 0xab 1M 64k", "write -P 0x5 10M 3M", "write -P 0x0 20M 1M")
    for path, fmt in ((raw, "raw"), (qcow, "qcow2"), (base, "qcow2")):
        subprocess.run(["qemu-img", "create", "-q", "-f", fmt, path, "32M"], check=True)
        qemu_io(path, fmt, *writes)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top], check=True)
    qemu_io(top, "qcow2", "write -P 0x7 11M 64k")
    return {"raw": raw, "qcow2": qcow, "chain": top}


@pytest.mark.parametrize("kind", ["raw", "qcow2", "chain"])
def test_file_source_reads_the_guest_view(images: dict[str, str], kind: str) -> None:
    path = images[kind]
    with FileDiskSource(path) as src:
        assert src.size == 32 * MiB
        assert src.direct == (kind == "raw")
        extents = src.changed_extents()
        covered = sum(n for _, n in extents)
        # the 1 MiB of explicit zeros at 20M counts as data in a raw file, as zero clusters in qcow2
        assert 3 * MiB + 64 * 1024 <= covered <= 5 * MiB
        assert sha(read_extents(src, src.size, extents)) == image_sha256(
            path, "raw" if kind == "raw" else "qcow2"
        )
        assert sha(read_all(src)) == image_sha256(path, "raw" if kind == "raw" else "qcow2")


@pytest.mark.parametrize("fmt", ["raw", "qcow2"])
def test_restore_to_a_new_file_is_exact_and_sparse(images: dict[str, str], tmp_path: Path, fmt: str) -> None:
    out = str(tmp_path / f"restored.{fmt}")
    with FileDiskSource(images["chain"]) as src, create_file_writer(out, fmt, src.size) as writer:
        stats = copy_disk(src, writer, src.changed_extents())
    assert image_sha256(out, fmt) == image_sha256(images["chain"], "qcow2")
    assert stats.bytes_written <= 3 * MiB + 64 * 1024  # zero blocks were not written
    # qemu-img allocates the first 4 KiB of a new raw file (alignment probing)
    assert sum(n for _, n in allocated(out)) <= 3 * MiB + 64 * 1024 + 4096


def test_restore_in_place_overwrites_and_punches_holes(images: dict[str, str], tmp_path: Path) -> None:
    target = str(tmp_path / "old.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", target, "32M"], check=True)
    qemu_io(target, "qcow2", "write -P 0xee 0 32M")  # fully written old content
    with FileDiskSource(images["qcow2"]) as src, open_file_writer(target, src.size) as writer:
        copy_disk(src, writer, src.changed_extents())
    assert image_sha256(target, "qcow2") == image_sha256(images["qcow2"], "qcow2")
    assert sum(n for _, n in allocated(target)) <= 4 * MiB + 64 * 1024


def test_bad_targets_are_refused_with_clear_errors(images: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(DiskError, match="exists already"):
        create_file_writer(images["raw"], "raw", 32 * MiB)
    with pytest.raises(DiskError, match="virtual size is 33554432 bytes, the backup's disk has 1024"):
        open_file_writer(images["raw"], 1024)
    with pytest.raises(DiskError, match="does not exist"):
        FileDiskSource(str(tmp_path / "missing.qcow2"))
    with pytest.raises(DiskError, match="format 'vmdk'"):
        create_file_writer(str(tmp_path / "x.vmdk"), "vmdk", MiB)
    assert not os.path.exists(tmp_path / "x.vmdk")
