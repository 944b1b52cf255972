"""Sources and restore targets given as objects (the datamover's NBD disks), not paths."""

from __future__ import annotations

import os
import threading

import pytest

from t4o.vault import InvalidArgument, SourceError, TargetError

from .conftest import CS


class MemoryDisk:
    """The smallest source: size and read(); plus the optional members."""

    def __init__(self, data: bytes, extents=None):
        self.data, self.extents = bytearray(data), extents
        self.path, self.format = "instance-1:vda", "qcow2"
        self.reads: list[tuple[int, int]] = []

    @property
    def size(self) -> int:
        return len(self.data)

    def read(self, offset: int, length: int) -> bytes:
        self.reads.append((offset, length))
        return bytes(self.data[offset : offset + length])

    def data_extents(self):
        return self.extents if self.extents is not None else [(0, len(self.data))]


class MemoryWriter:
    def __init__(self, size: int):
        self.size, self.buf, self.finished = size, bytearray(size), False
        self.lock = threading.Lock()

    def write(self, offset: int, data: bytes) -> None:
        with self.lock:
            self.buf[offset : offset + len(data)] = data

    def write_zeroes(self, offset: int, length: int) -> None:
        with self.lock:
            self.buf[offset : offset + length] = bytes(length)

    def flush(self) -> None:
        self.finished = True


def test_object_source_and_writer_round_trip(repo):
    data = os.urandom(3 * CS) + bytes(2 * CS) + os.urandom(100)
    disk = MemoryDisk(data, extents=[(0, 3 * CS), (5 * CS, 100)])
    m = repo.backup_disk(disk, "vda")
    assert m.source_format == "qcow2" and m.size == len(data)
    assert all(off < 3 * CS or off >= 5 * CS for off, _ in disk.reads)  # zero extents were not read
    out = MemoryWriter(len(data) + 4096)
    repo.restore_disk(m.ref, out)
    assert out.finished and bytes(out.buf[: len(data)]) == data
    disk.data[10:13] = b"new"
    m2 = repo.backup_disk(disk, "vda", parent=m.ref, changed_extents=[(10, 3)])
    assert m2.stats["read_bytes"] == CS + 100  # the changed block, and the partial last block
    assert repo.read_range(m2.ref, 8, 7) == bytes(disk.data[8:15])


def test_object_errors_are_source_and_target_errors(repo):
    class Broken(MemoryDisk):
        def read(self, offset, length):
            raise ConnectionError("NBD server went away")

    with pytest.raises(SourceError, match="NBD server went away"):
        repo.backup_disk(Broken(os.urandom(CS)), "vda")
    assert not list(repo.backend.list("locks/"))
    with pytest.raises(InvalidArgument, match="give a path"):
        repo.backup_disk(object(), "vda")
    m = repo.backup_disk(MemoryDisk(os.urandom(CS)), "vda")
    with pytest.raises(TargetError, match="smaller"):
        repo.restore_disk(m.ref, MemoryWriter(10))
    with pytest.raises(InvalidArgument, match="raw"):
        repo.restore_disk(m.ref, MemoryWriter(CS), fmt="qcow2")
