"""A snapshot disk opened for file recovery: its volumes, and a reader for each filesystem on them."""

from __future__ import annotations

import contextlib
from types import TracebackType

from t4o.filerecovery import partitions
from t4o.filerecovery.errors import FileRecoveryError, NotFound, UnsupportedFilesystem
from t4o.filerecovery.ext import ExtReader
from t4o.filerecovery.partitions import Volume
from t4o.filerecovery.reader import FilesystemReader
from t4o.filerecovery.source import DiskImage
from t4o.filerecovery.xfs import XfsReader

READABLE = ("ext2", "ext3", "ext4", "xfs")
_WHAT = {
    "lvm2": "an LVM2 physical volume (not read yet)",
    "luks": "a LUKS encrypted volume",
    "swap": "swap space",
    None: "no filesystem this reader recognises",
}


class Disk:
    """A disk image (a raw file or an NBD URI) with its volumes. Close it (or use ``with``) to
    release the readers and any FUSE mount."""

    def __init__(self, source: str) -> None:
        self.image = DiskImage(source)
        try:
            self.volumes: list[Volume] = partitions.volumes(self.image.read, self.image.size)
        except Exception:
            self.image.close()
            raise
        self._readers: dict[int, FilesystemReader] = {}

    def volume(self, partition: int | None = None) -> Volume:
        """The volume of that partition number (0: a whole-disk filesystem); None: the first one
        holding a filesystem this package reads."""
        if partition is None:
            for volume in self.volumes:
                if volume.filesystem in READABLE:
                    return volume
            found = ", ".join(f"{v.index}: {v.filesystem or 'unknown'}" for v in self.volumes) or "none"
            raise UnsupportedFilesystem(f"no readable filesystem on {self.image.source} (volumes {found})")
        for volume in self.volumes:
            if volume.index == partition:
                return volume
        raise NotFound(f"no partition {partition} on {self.image.source}")

    def filesystem(self, partition: int | None = None) -> FilesystemReader:
        volume = self.volume(partition)
        if volume.index in self._readers:
            return self._readers[volume.index]
        fs = volume.filesystem
        if fs in ("ext2", "ext3", "ext4"):
            reader: FilesystemReader = ExtReader(self.image.path, volume.offset, fs)
        elif fs == "xfs":
            reader = XfsReader(self.image.region_file(volume.offset, volume.size))
        else:
            what = _WHAT.get(fs, fs or "")
            raise UnsupportedFilesystem(f"partition {volume.index} of {self.image.source} holds {what}")
        self._readers[volume.index] = reader
        return reader

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
