import pytest

from t4o.datamover.disks.errors import DiskError
from t4o.datamover.disks.writers import copy_disk, is_zero


class Source:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)
        self.reads: list[tuple[int, int]] = []

    def read(self, offset: int, length: int) -> bytes:
        self.reads.append((offset, length))
        return self.data[offset : offset + length]


class Target:
    """Records calls; starts with ``old`` as its data ranges."""

    def __init__(self, size: int, old: list[tuple[int, int]]) -> None:
        self.size = size
        self.path = "target"
        self.old = old
        self.calls: list[tuple[str, int, int]] = []
        self.bytes_written = 0

    def data_extents(self) -> list[tuple[int, int]]:
        return self.old

    def write(self, offset: int, data: bytes) -> None:
        self.calls.append(("write", offset, len(data)))
        self.bytes_written += len(data)

    def write_zeroes(self, offset: int, length: int) -> None:
        self.calls.append(("zero", offset, length))

    def flush(self) -> None:
        self.calls.append(("flush", 0, 0))


def test_is_zero() -> None:
    assert is_zero(bytes(10 * 1024 * 1024))
    assert not is_zero(bytes(5 * 1024 * 1024) + b"\x01")
    assert is_zero(b"")


def test_copy_reads_extents_in_blocks_and_clears_only_old_data() -> None:
    src = Source(bytes(100) + b"\x07" * 50 + bytes(100))
    dst = Target(250, old=[(0, 10), (200, 30)])
    progress = []
    stats = copy_disk(src, dst, [(100, 50)], block=20, progress=lambda d, t: progress.append((d, t)))
    assert src.reads == [(100, 20), (120, 20), (140, 10)]
    assert dst.calls == [
        ("zero", 0, 10),
        ("write", 100, 20),
        ("write", 120, 20),
        ("write", 140, 10),
        ("zero", 200, 30),
        ("flush", 0, 0),
    ]
    assert progress[-1] == (50, 50) and stats.bytes_read == 50


def test_size_mismatch_is_refused() -> None:
    with pytest.raises(DiskError, match="source is 10 bytes but the target target is 20"):
        copy_disk(Source(bytes(10)), Target(20, []))
