"""A disk held in a plain raw or qcow2 file (a Cinder volume file on NFS, a volume snapshot file).

The file must not be written while it is read (a snapshot file, a detached volume): the view is the file.
Extents come from ``qemu-img map``; raw files are read directly, qcow2 (and backing chains) through a
read-only qemu-nbd.
"""

from __future__ import annotations

import os
import threading
from types import TracebackType

from t4o.datamover.disks import qemu_img
from t4o.datamover.disks.errors import DiskError
from t4o.datamover.disks.nbd import NbdClient
from t4o.datamover.disks.protocol import Extent
from t4o.datamover.disks.qemu_nbd import QemuNbdServer


class FileDiskSource:
    def __init__(self, path: str, fmt: str | None = None) -> None:
        if not os.path.exists(path):
            raise DiskError(f"disk file {path} does not exist")
        self.path = path
        self._info = qemu_img.info(path, fmt)
        self.format = self._info.format
        self._size = self._info.virtual_size
        self._fd = -1
        self._server: QemuNbdServer | None = None
        self._client: NbdClient | None = None
        self._lock = threading.Lock()
        self._extents: list[Extent] | None = None

    @property
    def size(self) -> int:
        return self._size

    @property
    def direct(self) -> bool:
        """Raw without a backing chain: bytes are read straight from the file."""
        return self.format == "raw"

    def open(self) -> FileDiskSource:
        if self.direct:
            self._fd = os.open(self.path, os.O_RDONLY)
        else:
            self._server = QemuNbdServer(self.path, self.format, read_only=True).start()
            self._client = self._server.client()
        return self

    def changed_extents(self) -> list[Extent]:
        """A file has no parent: the allocated (possibly non-zero) ranges."""
        if self._extents is None:
            self._extents = qemu_img.allocated_extents(self.path, self.format)
        return list(self._extents)

    def data_extents(self) -> list[Extent]:
        return self.changed_extents()

    def read(self, offset: int, length: int) -> bytes:
        length = max(0, min(length, self._size - offset))
        if self._fd >= 0:
            out = bytearray()
            while len(out) < length:
                chunk = os.pread(self._fd, length - len(out), offset + len(out))
                if not chunk:  # a raw file shorter than its size reads as zeros past its end
                    out += bytes(length - len(out))
                    break
                out += chunk
            return bytes(out)
        if self._client is None:
            raise DiskError(f"disk file {self.path} is not open for reading")
        with self._lock:
            return self._client.read(offset, length)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> FileDiskSource:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
