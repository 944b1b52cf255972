"""The test's own model of a disk's bytes, to check restores against something the product did not compute.

A ``DiskModel`` is the disk's guest-visible bytes before the test wrote to it (read once from the source
disk with ``qemu-img``) plus every write the test made since, in order. Its sha256 taken when a snapshot
runs is what a restore of that snapshot must give back."""

from __future__ import annotations

import hashlib
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

MiB = 1 << 20


def raw_copy(path: Path, tmp: Path) -> Path:
    """A raw (sparse) copy of a disk's guest-visible bytes, qcow2 chains included, read without the image
    lock (the disk may belong to a running VM)."""
    raw = tmp / f"{uuid.uuid4().hex}.raw"
    subprocess.run(["qemu-img", "convert", "-U", "-O", "raw", str(path), str(raw)], check=True, timeout=300)
    return raw


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 * MiB):
            h.update(chunk)
    return h.hexdigest()


def disk_sha256(path: Path, tmp: Path) -> str:
    """sha256 of a disk's guest-visible bytes."""
    raw = raw_copy(path, tmp)
    try:
        return file_sha256(raw)
    finally:
        raw.unlink()


@dataclass
class DiskModel:
    base: Path
    writes: list[tuple[int, bytes]] = field(default_factory=list)

    @classmethod
    def of(cls, path: Path, tmp: Path) -> DiskModel:
        """The model of a disk the test has not written to yet: its current bytes."""
        return cls(raw_copy(path, tmp))

    def write(self, offset: int, data: bytes) -> None:
        self.writes.append((offset, data))

    def sha256(self) -> str:
        """sha256 of the bytes the disk must hold: the base with every write laid over it, later ones last."""
        size = self.base.stat().st_size
        assert all(offset + len(data) <= size for offset, data in self.writes), "a write past the disk's end"
        h = hashlib.sha256()
        with open(self.base, "rb") as f:
            pos = 0
            while chunk := bytearray(f.read(8 * MiB)):
                end = pos + len(chunk)
                for offset, data in self.writes:
                    lo, hi = max(offset, pos), min(offset + len(data), end)
                    if lo < hi:
                        chunk[lo - pos : hi - pos] = data[lo - offset : hi - offset]
                h.update(chunk)
                pos = end
        return h.hexdigest()
