"""The storage interface under a vault repository: a flat key -> bytes object store.

Keys are '/'-separated relative names (e.g. ``chunks/ab/abcd...``). Every backend (a posix directory,
an S3 bucket) gives the same guarantees so that the repository logic above it is written once:

- ``put`` is atomic: a reader sees either the whole object or none of it (temp file + rename on posix,
  a single PUT on S3). A crash never leaves a partial object under its final key.
- ``list`` returns final keys only, never temporary files.
- ``stat`` gives the size and last-modified time, which garbage collection uses to spare objects that
  a backup still running may be about to reference.
"""

from __future__ import annotations

import abc
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


class BackendError(Exception):
    """The backup target failed or refused an operation; the message says which and why."""


class ObjectNotFound(BackendError):
    """No object under that key."""


class ObjectLocked(BackendError):
    """The object is under retention (S3 Object Lock) and cannot be deleted yet."""


class NotSupported(BackendError):
    """This backend cannot do that (e.g. object lock on a posix directory)."""


class ObjectWriter:
    """A new object written piece by piece and named only when complete (``commit``); until then
    nobody sees it. This default keeps the pieces in memory and stores them with one ``put_parts``."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.parts: list[bytes] = []

    def expect(self, key: str, size: int) -> None:
        """Called before the first ``write``: the key ``commit`` will be given and about how many bytes
        the object will hold. A backend that cannot rename an object into place (S3) streams to that key
        from the start; the others ignore it."""

    def write(self, data: bytes) -> None:
        self.parts.append(data)

    def drain(self) -> None:
        """Send what ``write`` buffered and may be sent already (S3: full parts). ``write`` only
        buffers, so a caller may write under a lock and drain outside it; concurrent calls are safe."""

    def commit(self, key: str) -> None:
        self.backend.put_parts(key, self.parts)
        self.parts = []

    def abort(self) -> None:
        self.parts = []


class RangeReader(Protocol):
    """Bytes of one object read in order (``Backend.open_range``); ``read(n)`` returns fewer than
    ``n`` bytes only at the end of the range."""

    def read(self, n: int, /) -> bytes: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    mtime: dt.datetime  # timezone-aware, UTC


class Backend(abc.ABC):
    """A flat object store holding one repository."""

    #: a human-readable location for messages and ``info`` (a path or ``s3://bucket/prefix``)
    url: str
    #: the most bytes of one object a restore reads with one ``open_range``: a backend whose reader
    #: streams (S3) reads long runs of a pack per request without holding them
    range_run_bytes: int = 4 * 1024 * 1024
    #: a local directory caching this target's index files (index.py), or None: only a remote target
    #: (S3), where each read is a request, has one
    index_cache_dir: str | None = None

    @abc.abstractmethod
    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` atomically, replacing any previous object."""

    @abc.abstractmethod
    def get(self, key: str) -> bytes:
        """Return the object's bytes; raise ObjectNotFound when absent."""

    def new_object(self, prefix: str) -> ObjectWriter:
        """A writer for an object under ``prefix`` whose key is known only once it is complete (a pack
        is named by the hash of its bytes). A backend may stream it to its place instead of buffering."""
        return ObjectWriter(self)

    def put_parts(self, key: str, parts: list[bytes]) -> None:
        """``put`` of the concatenation of ``parts``; a backend may write them without joining."""
        self.put(key, b"".join(parts))

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        """``length`` bytes of the object from ``offset`` (fewer at its end); a backend that can
        read part of an object (pread, an HTTP Range) does so instead of fetching all of it."""
        return self.get(key)[offset : offset + length]

    def open_range(self, key: str, offset: int, length: int) -> RangeReader:
        """A reader of ``get_range(key, offset, length)``'s bytes. This default reads them at once; a
        backend may stream them as they arrive (S3: the body of one ranged GET). ObjectNotFound is
        raised here, not by ``read``."""
        return io.BytesIO(self.get_range(key, offset, length))

    @abc.abstractmethod
    def exists(self, key: str) -> bool: ...

    @abc.abstractmethod
    def stat(self, key: str) -> ObjectInfo:
        """Raise ObjectNotFound when absent."""

    @abc.abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, in no particular order."""

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        """The keys of ``list(prefix)``; a backend may answer it more cheaply (no size or time)."""
        return (info.key for info in self.list(prefix))

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; absent is not an error; ObjectLocked while under retention."""

    def lock_until(self, key: str, until: dt.datetime) -> None:
        """Make the object undeletable until ``until`` (S3 Object Lock, compliance mode)."""
        raise NotSupported(f"{self.url}: this backup target does not support object lock")

    def locked_until(self, key: str) -> dt.datetime | None:
        """The retention date set on the object, or None."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default has nothing to release."""
