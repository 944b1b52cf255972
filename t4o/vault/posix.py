"""The posix-directory backend: one file per object under a root directory (local disk or NFS).

Atomic put: write a temporary file in the object's own directory, fsync it, rename it over the final
name, fsync the directory. Rename within one directory is atomic on local filesystems and on NFS, and
keeping the temporary file beside the target avoids cross-directory renames. Temporary names start with
``.tmp-`` and are never listed; ``sweep_temp`` removes the ones a crashed writer left behind.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from t4o.vault.backend import Backend, BackendError, ObjectInfo, ObjectNotFound, ObjectWriter

TEMP_PREFIX = ".tmp-"


def _error(op: str, key: str, exc: OSError) -> BackendError:
    if exc.errno == errno.ENOSPC:
        return BackendError(f"backup target is full: cannot {op} {key!r} ({exc.strerror})")
    if exc.errno == errno.EDQUOT:
        return BackendError(f"backup target quota exceeded: cannot {op} {key!r} ({exc.strerror})")
    return BackendError(f"cannot {op} {key!r}: {exc.strerror or exc}")


class PosixBackend(Backend):
    """A repository stored as files under ``root``."""

    def __init__(self, root: str | os.PathLike[str], fsync: bool = True) -> None:
        self.root = Path(root).absolute()
        self.url = str(self.root)
        # fsync=False is for throwaway repositories only (tests of logic that is not about durability).
        self._fsync = fsync

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise BackendError(f"invalid object key {key!r}")
        if parts[-1].startswith(TEMP_PREFIX):
            raise BackendError(f"invalid object key {key!r}: reserved prefix {TEMP_PREFIX!r}")
        return self.root.joinpath(*parts)

    def _fsync_dir(self, path: Path) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def put(self, key: str, data: bytes) -> None:
        self._write(key, [data])

    def put_parts(self, key: str, parts: list[bytes]) -> None:
        self._write(key, parts)  # a pack is written from its blobs as they are (no 16 MiB join)

    def _write(self, key: str, parts: list[bytes]) -> None:
        path = self._path(key)
        tmp = path.with_name(f"{TEMP_PREFIX}{path.name}.{secrets.token_hex(6)}")
        try:
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            except FileNotFoundError:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            try:
                for part in parts:
                    view = memoryview(part)
                    while view:
                        written = os.write(fd, view)
                        view = view[written:]
                if self._fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
            if self._fsync:
                self._fsync_dir(path.parent)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise _error("write", key, exc) from exc

    def get(self, key: str) -> bytes:
        try:
            with open(self._path(key), "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise ObjectNotFound(f"{self.url}: no object {key!r}") from None
        except IsADirectoryError:
            raise ObjectNotFound(f"{self.url}: no object {key!r}") from None
        except OSError as exc:
            raise _error("read", key, exc) from exc

    def new_object(self, prefix: str) -> ObjectWriter:
        return _StreamingWriter(self, prefix)

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        try:
            fd = os.open(self._path(key), os.O_RDONLY)
        except (FileNotFoundError, IsADirectoryError):
            raise ObjectNotFound(f"{self.url}: no object {key!r}") from None
        except OSError as exc:
            raise _error("read", key, exc) from exc
        try:
            return os.pread(fd, length, offset)
        except OSError as exc:
            raise _error("read", key, exc) from exc
        finally:
            os.close(fd)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def stat(self, key: str) -> ObjectInfo:
        try:
            st = os.stat(self._path(key))
        except FileNotFoundError:
            raise ObjectNotFound(f"{self.url}: no object {key!r}") from None
        except OSError as exc:
            raise _error("stat", key, exc) from exc
        return ObjectInfo(key, st.st_size, dt.datetime.fromtimestamp(st.st_mtime, dt.UTC))

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        # Walk only the directory that can hold the prefix, then filter by the full prefix.
        head = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self.root.joinpath(*head.split("/")) if head else self.root
        if not start.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames.sort()
            rel_dir = os.path.relpath(dirpath, self.root)
            for name in sorted(filenames):
                if name.startswith(TEMP_PREFIX):
                    continue
                key = name if rel_dir == "." else f"{rel_dir.replace(os.sep, '/')}/{name}"
                if not key.startswith(prefix):
                    continue
                try:
                    st = os.stat(os.path.join(dirpath, name))
                except FileNotFoundError:
                    continue  # deleted while we walked
                yield ObjectInfo(key, st.st_size, dt.datetime.fromtimestamp(st.st_mtime, dt.UTC))

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        # As list(), without a stat per file: a backup lists every chunk of the repository.
        head = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self.root.joinpath(*head.split("/")) if head else self.root
        if not start.is_dir():
            return
        for dirpath, _dirnames, filenames in os.walk(start):
            rel_dir = os.path.relpath(dirpath, self.root)
            base = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
            for name in filenames:
                if not name.startswith(TEMP_PREFIX) and (key := base + name).startswith(prefix):
                    yield key

    def delete(self, key: str) -> None:
        try:
            os.unlink(self._path(key))
        except FileNotFoundError:
            return
        except OSError as exc:
            raise _error("delete", key, exc) from exc

    def sweep_temp(self, older_than: dt.timedelta = dt.timedelta(hours=1)) -> int:
        """Remove temporary files left by writers that died; returns how many were removed."""
        cutoff = dt.datetime.now(dt.UTC) - older_than
        removed = 0
        for dirpath, _dirs, filenames in os.walk(self.root):
            for name in filenames:
                if not name.startswith(TEMP_PREFIX):
                    continue
                path = os.path.join(dirpath, name)
                try:
                    if dt.datetime.fromtimestamp(os.stat(path).st_mtime, dt.UTC) < cutoff:
                        os.unlink(path)
                        removed += 1
                except FileNotFoundError:
                    continue
        return removed


class _StreamingWriter(ObjectWriter):
    """Writes an object straight into a temporary file under its prefix (no buffering in memory), then
    fsyncs it and renames it to its key (another directory of the same filesystem: still atomic)."""

    def __init__(self, backend: PosixBackend, prefix: str) -> None:
        super().__init__(backend)
        self.posix = backend
        directory = backend.root.joinpath(*[p for p in prefix.split("/") if p])
        self.tmp = directory / f"{TEMP_PREFIX}{secrets.token_hex(8)}"
        self.fd: int | None = None

    def write(self, data: bytes) -> None:
        try:
            if self.fd is None:
                try:
                    self.fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
                except FileNotFoundError:
                    self.tmp.parent.mkdir(parents=True, exist_ok=True)
                    self.fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            view = memoryview(data)
            while view:
                view = view[os.write(self.fd, view) :]
        except OSError as exc:
            self.abort()
            raise _error("write", str(self.tmp.name), exc) from exc

    def commit(self, key: str) -> None:
        path = self.posix._path(key)
        try:
            if self.fd is None:
                self.write(b"")
            assert self.fd is not None
            if self.posix._fsync:
                os.fsync(self.fd)
            os.close(self.fd)
            self.fd = None
            try:
                os.replace(self.tmp, path)
            except FileNotFoundError:
                path.parent.mkdir(parents=True, exist_ok=True)
                os.replace(self.tmp, path)
            if self.posix._fsync:
                self.posix._fsync_dir(path.parent)
        except OSError as exc:
            self.abort()
            raise _error("write", key, exc) from exc

    def abort(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None
        with contextlib.suppress(OSError):
            os.unlink(self.tmp)
