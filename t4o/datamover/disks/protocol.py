"""The small protocols between the disk layer and its users (the vault, the restore workflow).

A *source* is anything with ``size`` and ``read(offset, length)``; the vault needs nothing more. When
present, ``data_extents()`` lists the ranges that may be non-zero (the rest need not be read), and
``path``/``format`` name the disk in messages. Sources of this package also offer ``changed_extents()``:
the byte ranges worth reading (changed since the parent checkpoint for an incremental, allocated for a
full), sorted and non-overlapping. Bytes outside those ranges are zero (full) or unchanged since the
parent (incremental).

A *writer* receives a disk back: ``write`` for data, ``write_zeroes`` for ranges that must read as zero
(left sparse where the format allows), then ``flush`` and ``close``. See docs/datamover-disks.md.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

#: (offset, length) in bytes
Extent = tuple[int, int]


@runtime_checkable
class DiskSource(Protocol):
    @property
    def size(self) -> int:
        """Virtual size of the disk in bytes."""
        ...

    def read(self, offset: int, length: int) -> bytes:
        """Exactly ``length`` bytes at ``offset`` of the frozen view (short only at the end of the disk)."""
        ...


@runtime_checkable
class ExtentSource(DiskSource, Protocol):
    def changed_extents(self) -> list[Extent]: ...

    def data_extents(self) -> list[Extent]: ...


@runtime_checkable
class DiskWriter(Protocol):
    @property
    def size(self) -> int: ...

    def write(self, offset: int, data: bytes) -> None: ...

    def write_zeroes(self, offset: int, length: int) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...
