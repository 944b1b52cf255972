"""A snapshot disk opened for file recovery: its volumes, and a reader for each filesystem on them."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from types import TracebackType

from t4o.filerecovery import lvm, partitions
from t4o.filerecovery.entries import Entry
from t4o.filerecovery.errors import FileRecoveryError, NotFound, ToolError, UnsupportedFilesystem
from t4o.filerecovery.ext import ExtReader
from t4o.filerecovery.partitions import Volume
from t4o.filerecovery.reader import FilesystemReader
from t4o.filerecovery.search import DEFAULT_LIMIT, search
from t4o.filerecovery.source import DiskImage
from t4o.filerecovery.xfs import XfsReader

LOG = logging.getLogger(__name__)

READABLE = ("ext2", "ext3", "ext4", "xfs")
LV_FIRST = 101  # the volume number of a disk's first LV
_WHAT = {
    "lvm2": "an LVM2 physical volume (read its LVs)",
    "luks": "a LUKS encrypted volume",
    "swap": "swap space",
    None: "no filesystem this reader recognises",
}


@dataclass(frozen=True)
class VolumeMatches:
    volume: Volume
    entries: list[Entry]
    truncated: bool
    error: str = ""


class Disk:
    """A disk image (a raw file or an NBD URI) with its volumes. Close it (or use ``with``) to
    release the readers and any FUSE mount."""

    def __init__(self, source: str) -> None:
        self.image = DiskImage(source)
        try:
            self.volumes: list[Volume] = partitions.volumes(self.image.read, self.image.size)
            self.volumes += self._logical_volumes()
        except Exception:
            self.image.close()
            raise
        self._readers: dict[int, FilesystemReader] = {}

    def _logical_volumes(self) -> list[Volume]:
        """The LVs of the disk's LVM2 physical volumes, numbered from 101 in the order found."""
        found: list[Volume] = []
        for pv in [v for v in self.volumes if v.filesystem == "lvm2"]:
            try:
                lvs = lvm.logical_volumes(self.image.read, pv.offset)
            except lvm.LvmError as exc:
                LOG.warning("%s: partition %d: %s", self.image.source, pv.index, exc)
                continue
            for lv in lvs:
                offset = pv.offset + lv.offset
                fs = partitions.detect(self.image.read, offset) if lv.readable else None
                kind = "linear" if lv.readable else lv.why
                found.append(
                    Volume(LV_FIRST + len(found), offset, lv.size, fs, "lvm", kind, f"{lv.vg}/{lv.name}")
                )
        return found

    def volume(self, partition: int | str | None = None) -> Volume:
        """The volume of that partition number (0: a whole-disk filesystem; 101 and up: LVs) or LV
        name ("vg/lv"); None: the first one holding a filesystem this package reads."""
        if partition is None:
            for volume in self.volumes:
                if volume.filesystem in READABLE:
                    return volume
            found = ", ".join(f"{v.index}: {v.filesystem or 'unknown'}" for v in self.volumes) or "none"
            raise UnsupportedFilesystem(f"no readable filesystem on {self.image.source} (volumes {found})")
        for volume in self.volumes:
            if volume.index == partition or (volume.table == "lvm" and volume.name == partition):
                return volume
        raise NotFound(f"no partition {partition} on {self.image.source}")

    def filesystem(self, partition: int | str | None = None) -> FilesystemReader:
        volume = self.volume(partition)
        if volume.index in self._readers:
            return self._readers[volume.index]
        fs = volume.filesystem
        if fs in ("ext2", "ext3", "ext4"):
            reader: FilesystemReader = ExtReader(self.image.path, volume.offset, fs)
        elif fs == "xfs":
            reader = XfsReader(self.image.region_file(volume.offset, volume.size))
        elif volume.table == "lvm" and volume.partition_type != "linear":
            raise UnsupportedFilesystem(f"LV {volume.name} on {self.image.source} is {volume.partition_type}")
        else:
            what = _WHAT.get(fs, fs or "")
            where = f"LV {volume.name}" if volume.table == "lvm" else f"partition {volume.index}"
            raise UnsupportedFilesystem(f"{where} of {self.image.source} holds {what}")
        self._readers[volume.index] = reader
        return reader

    def search(self, pattern: str, kind: str = "auto", limit: int = DEFAULT_LIMIT) -> list[VolumeMatches]:
        """A search over every volume this package reads, as Trilio's file search reports it: the
        matches per partition (or LV); a volume that cannot be read carries its error instead."""
        found = []
        for volume in self.volumes:
            if volume.filesystem not in READABLE:
                continue
            try:
                result = search(self.filesystem(volume.index), pattern, "/", kind, limit)
            except (NotFound, ToolError) as exc:  # a bad pattern still fails the whole call
                found.append(VolumeMatches(volume, [], False, str(exc)))
                continue
            found.append(VolumeMatches(volume, result.entries, result.truncated))
        return found

    def close(self) -> None:
        for reader in self._readers.values():
            with contextlib.suppress(FileRecoveryError):
                reader.close()
        self._readers.clear()
        self.image.close()

    def __enter__(self) -> Disk:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_disk(source: str) -> Disk:
    """A disk for file recovery: a raw image file, or ``nbd+unix:///?socket=PATH``."""
    return Disk(source)
