"""Disk sources and restore targets: files or block devices, raw or qcow2.

qcow2 is read by converting it on the fly to a sparse raw file with ``qemu-img convert`` (in a
temporary directory the caller may choose) and reading that: qemu-img understands every qcow2 feature
(backing files, compression, encryption aside) and the conversion runs at disk speed. Sparse raw files
are read with SEEK_DATA/SEEK_HOLE so holes are known to be zero without reading them.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from t4o.vault.errors import InvalidArgument, SourceError, TargetError

QCOW2_MAGIC = b"QFI\xfb"
FORMATS = ("raw", "qcow2")


def _qemu_img(*args: str, what: str, error: type[Exception] = SourceError) -> str:
    if shutil.which("qemu-img") is None:
        raise error(f"{what}: qemu-img is not installed (Debian package qemu-utils)")
    proc = subprocess.run(["qemu-img", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip().splitlines()
        raise error(f"{what}: qemu-img failed: {msg[-1] if msg else proc.returncode}")
    return proc.stdout


def detect_format(path: str) -> str:
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise SourceError(f"cannot read disk {path}: {exc.strerror}") from None
    return "qcow2" if head == QCOW2_MAGIC else "raw"


def device_size(fd: int) -> int:
    return os.lseek(fd, 0, os.SEEK_END)


class DiskSource:
    """A disk opened for reading, as a logical raw image."""

    def __init__(self, path: str | os.PathLike[str], fmt: str | None = None, tmpdir: str | None = None):
        self.path = str(path)
        if not os.path.exists(self.path):
            raise SourceError(f"disk {self.path} does not exist")
        self.format = fmt or detect_format(self.path)
        if self.format not in FORMATS:
            raise InvalidArgument(f"unknown disk format {self.format!r} (use raw or qcow2)")
        self._tmpdir: str | None = None
        read_path = self.path
        if self.format == "qcow2":
            self._tmpdir = tempfile.mkdtemp(prefix="t4o-vault-", dir=tmpdir)
            read_path = os.path.join(self._tmpdir, "disk.raw")
            try:
                _qemu_img(
                    "convert",
                    "-f",
                    "qcow2",
                    "-O",
                    "raw",
                    "-S",
                    "64k",
                    self.path,
                    read_path,
                    what=f"reading qcow2 disk {self.path}",
                )
            except BaseException:
                self.close()
                raise
        try:
            self.fd = os.open(read_path, os.O_RDONLY)
        except OSError as exc:
            self.close()
            raise SourceError(f"cannot open disk {self.path}: {exc.strerror}") from None
        st = os.fstat(self.fd)
        self.is_block = stat.S_ISBLK(st.st_mode)
        if not (self.is_block or stat.S_ISREG(st.st_mode)):
            self.close()
            raise SourceError(f"disk {self.path} is neither a file nor a block device")
        self.size = device_size(self.fd) if self.is_block else st.st_size
        # A backup reads the disk once from start to end: a larger kernel read-ahead, where supported.
        with contextlib.suppress(OSError, AttributeError):
            os.posix_fadvise(self.fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)

    def read(self, offset: int, length: int) -> bytes:
        try:
            data = os.pread(self.fd, length, offset)
        except OSError as exc:
            raise SourceError(f"disk {self.path} failed at offset {offset}: {exc.strerror}") from None
        self._check_length(len(data), length, offset)
        return data

    def read_into(self, offset: int, buf: bytearray | memoryview) -> None:
        """Fill ``buf`` from ``offset``: a reused buffer costs no allocation and no fresh pages per
        block. Safe from several threads at once (pread)."""
        try:
            n = os.preadv(self.fd, [buf], offset)
        except OSError as exc:
            raise SourceError(f"disk {self.path} failed at offset {offset}: {exc.strerror}") from None
        self._check_length(n, len(buf), offset)

    def _check_length(self, got: int, length: int, offset: int) -> None:
        if got != length:
            raise SourceError(
                f"disk {self.path} shrank or vanished during the backup: read {got} of {length} "
                f"bytes at offset {offset} (size was {self.size})"
            )

    def current_size(self) -> int:
        """The size now, to notice a disk that shrank or vanished while it was read."""
        try:
            return device_size(self.fd) if self.is_block else os.fstat(self.fd).st_size
        except OSError as exc:
            raise SourceError(f"disk {self.path} vanished during the backup ({exc.strerror})") from None

    def data_extents(self) -> list[tuple[int, int]] | None:
        """Allocated (offset, length) ranges; None when the source cannot tell (block devices)."""
        if self.is_block:
            return None
        extents: list[tuple[int, int]] = []
        pos = 0
        try:
            while pos < self.size:
                try:
                    start = os.lseek(self.fd, pos, os.SEEK_DATA)
                except OSError as exc:
                    if exc.errno == errno.ENXIO:  # no data after pos
                        break
                    raise
                end = min(os.lseek(self.fd, start, os.SEEK_HOLE), self.size)
                extents.append((start, end - start))
                pos = end
        except OSError:
            return None  # filesystem without SEEK_DATA: read everything
        return extents

    def close(self) -> None:
        fd = getattr(self, "fd", None)
        if fd is not None:
            os.close(fd)
            self.fd = None  # type: ignore[assignment]
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> DiskSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ObjectSource:
    """A caller's source object (``size`` and ``read(offset, length)``, optionally ``data_extents()``,
    ``path`` and ``format``), e.g. a disk exported over NBD by the datamover. The caller closes it."""

    is_block = False

    def __init__(self, obj: Any):
        self._obj = obj
        self.path = str(getattr(obj, "path", None) or type(obj).__name__)
        self.format = str(getattr(obj, "format", None) or "raw")
        try:
            self.size = int(obj.size)
        except Exception as exc:
            raise SourceError(f"disk {self.path}: cannot get its size ({exc})") from None

    def read(self, offset: int, length: int) -> bytes:
        try:
            data = bytes(self._obj.read(offset, length))
        except Exception as exc:  # the source's own error types: report them as a source failure
            raise SourceError(f"disk {self.path} failed at offset {offset}: {exc}") from None
        if len(data) != length:
            raise SourceError(
                f"disk {self.path} shrank or vanished during the backup: read {len(data)} of {length} "
                f"bytes at offset {offset} (size was {self.size})"
            )
        return data

    def current_size(self) -> int:
        try:
            return int(self._obj.size)
        except Exception as exc:
            raise SourceError(f"disk {self.path} vanished during the backup ({exc})") from None

    def data_extents(self) -> list[tuple[int, int]] | None:
        extents = getattr(self._obj, "data_extents", None)
        if extents is None:
            return None
        try:
            return [(int(o), int(n)) for o, n in extents()]
        except Exception as exc:
            raise SourceError(f"disk {self.path}: cannot list its data extents ({exc})") from None

    def close(self) -> None:
        pass

    def __enter__(self) -> ObjectSource:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def open_source(source: Any, fmt: str | None = None, tmpdir: str | None = None) -> DiskSource | ObjectSource:
    """A path (file or block device) or a source object."""
    if isinstance(source, str | os.PathLike):
        return DiskSource(source, fmt, tmpdir)
    if callable(getattr(source, "read", None)) and hasattr(source, "size"):
        return ObjectSource(source)
    raise InvalidArgument(f"cannot back up {source!r}: give a path or an object with size and read()")


def block_ranges(extents: list[tuple[int, int]], size: int, chunk_size: int) -> Iterator[int]:
    """Indexes of the blocks that overlap any of ``extents`` (ascending, unique)."""
    last = -1
    for off, length in sorted(extents):
        if length <= 0:
            continue
        first = max(off // chunk_size, last + 1)
        end = min(off + length, size)
        for i in range(first, (end + chunk_size - 1) // chunk_size):
            yield i
            last = i


class RestoreTarget:
    """A file or block device receiving a logical raw disk (a block writer, see restore.py).

    A file is written as a sparse temporary file beside it and renamed over it by ``finish``, so a
    failed restore leaves an existing file untouched and no partial file behind (``abort``). A block
    device is written in place, zeros included.
    """

    def __init__(self, path: str | os.PathLike[str], size: int):
        self.path = str(path)
        self.size = size
        self._tmp: str | None = None
        try:
            exists = os.path.exists(self.path)
            self.is_block = exists and stat.S_ISBLK(os.stat(self.path).st_mode)
            if self.is_block:
                self.fd = os.open(self.path, os.O_WRONLY)
                if device_size(self.fd) < size:
                    os.close(self.fd)
                    raise TargetError(f"block device {self.path} is smaller than the disk ({size} bytes)")
            else:
                if os.path.isdir(self.path):
                    raise TargetError(f"restore target {self.path} is a directory")
                parent = Path(self.path).absolute().parent
                parent.mkdir(parents=True, exist_ok=True)
                self.fd, self._tmp = tempfile.mkstemp(
                    prefix=f".t4o-restore-{Path(self.path).name}-", dir=parent
                )
                os.ftruncate(self.fd, size)
        except OSError as exc:
            if self._tmp:
                os.close(self.fd)
                os.unlink(self._tmp)
            raise TargetError(f"cannot write restore target {self.path}: {exc.strerror}") from None

    def write(self, offset: int, data: bytes) -> None:
        try:
            view = memoryview(data)
            while view:
                n = os.pwrite(self.fd, view, offset)
                view, offset = view[n:], offset + n
        except OSError as exc:
            raise TargetError(f"cannot write restore target {self.path}: {exc.strerror}") from None

    def write_zeroes(self, offset: int, length: int) -> None:
        # A fresh file is already zero there (a hole); a device must be overwritten.
        if self.is_block:
            self.write(offset, bytes(length))

    def data_extents(self) -> list[tuple[int, int]] | None:
        """A fresh file holds no data yet; what a block device holds is unknown (zero it all)."""
        return None if self.is_block else []

    def flush(self) -> None:
        try:
            os.fsync(self.fd)
        except OSError as exc:
            raise TargetError(f"cannot write restore target {self.path}: {exc.strerror}") from None

    def finish(self) -> None:
        try:
            os.fsync(self.fd)  # flushed already after a restore: nothing left to write by now
            os.close(self.fd)
            self.fd = -1
            if self._tmp:
                os.chmod(self._tmp, 0o640)
                os.replace(self._tmp, self.path)
                self._tmp = None
        except OSError as exc:
            self.abort()
            raise TargetError(f"cannot finish restore target {self.path}: {exc.strerror}") from None

    def abort(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self._tmp:
            with contextlib.suppress(OSError):
                os.unlink(self._tmp)
            self._tmp = None


def convert_raw_to_qcow2(raw: str, dest: str) -> None:
    _qemu_img(
        "convert", "-f", "raw", "-O", "qcow2", raw, dest, what=f"writing qcow2 {dest}", error=TargetError
    )


def qemu_img_info(path: str) -> dict[str, object]:
    return json.loads(_qemu_img("info", "--output=json", path, what=f"inspecting {path}"))
