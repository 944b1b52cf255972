"""What every filesystem reader offers, and what is built the same way on top of any of them."""

from __future__ import annotations

import os
import posixpath
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence

from t4o.filerecovery.entries import DIRECTORY, FILE, SYMLINK, Entry, normalize
from t4o.filerecovery.errors import FileRecoveryError, IsADirectory, NotADirectory, NotFound

MAX_SYMLINKS = 40  # as Linux: more hops than this is a loop
READ_CHUNK = 1024 * 1024


class FilesystemReader(ABC):
    """Read-only access to one filesystem. Paths are absolute within the filesystem; symlinks are
    resolved inside it (an absolute target starts at its root, as in a chroot)."""

    fstype: str = ""

    @abstractmethod
    def stat_many(self, paths: Sequence[str]) -> list[Entry | None]:
        """One entry per path (symlinks not followed), None for a path that does not exist."""

    @abstractmethod
    def children(self, directories: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
        """(name, type) of the entries of each directory (``.`` and ``..`` left out): the cheap call
        walks and searches use. A path that is not a directory maps to an empty list."""

    @abstractmethod
    def read_entry(self, entry: Entry) -> Iterator[bytes]:
        """The whole content of a regular file."""

    @abstractmethod
    def close(self) -> None:
        """Releases what the reader holds."""

    # Built on the calls above.

    def stat(self, path: str) -> Entry:
        """The entry at ``path`` (a symlink itself, not its target). ``NotFound`` if there is none."""
        path = normalize(path)
        entry = self.stat_many([path])[0]
        if entry is None:
            raise NotFound(f"{path}: no such file or directory")
        return entry

    def list(self, path: str) -> list[Entry]:
        """The entries of a directory (symlinks to directories followed), sorted by name."""
        directory = self.resolve(path)
        if directory.type != DIRECTORY:
            raise NotADirectory(f"{directory.path}: not a directory")
        names = self.children([directory.path]).get(directory.path, [])
        base = directory.path.rstrip("/")
        entries = self.stat_many([f"{base}/{name}" for name, _ in names])
        return sorted((e for e in entries if e is not None), key=lambda e: e.name)

    def resolve(self, path: str) -> Entry:
        """The entry at ``path`` with a final symlink followed (each hop inside this filesystem)."""
        path = normalize(path)
        for _ in range(MAX_SYMLINKS):
            entry = self.stat(path)
            if entry.type != SYMLINK or entry.link_target is None:
                return entry
            path = normalize(posixpath.join(posixpath.dirname(path), entry.link_target))
        raise FileRecoveryError(f"{path}: too many levels of symbolic links")

    def read(self, path: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """The bytes of a regular file (a symlink followed), from ``offset``, at most ``length``."""
        entry = self.resolve(path)
        if entry.type == DIRECTORY:
            raise IsADirectory(f"{entry.path}: is a directory (download it as a tar stream)")
        if entry.type != FILE:
            raise FileRecoveryError(f"{entry.path}: not a regular file ({entry.type})")
        if offset < 0 or (length is not None and length < 0):
            raise FileRecoveryError(f"{entry.path}: invalid range")
        return self.read_range(entry, offset, length)

    def read_range(self, entry: Entry, offset: int, length: int | None) -> Iterator[bytes]:
        """Bytes [offset, offset + length) of a regular file; readers that know where a file's
        blocks are override it to start reading at ``offset``."""
        return slice_chunks(self.read_entry(entry), offset, length)


Extent = tuple[int, int, int]  # (offset in the file, offset in the image or -1 for zeros, length), bytes


def stream_extents(
    fd: int, extents: list[Extent], size: int, offset: int = 0, length: int | None = None
) -> Iterator[bytes]:
    """A file's bytes [offset, offset + length) from its extents (sorted by file offset), reading the
    image with ``pread`` in chunks of up to 1 MiB; holes and unwritten extents read as zeros."""
    end = size if length is None else min(size, offset + length)
    position = min(offset, end)
    for file_offset, image, extent_length in extents:
        stop = min(file_offset + extent_length, end)
        if stop <= position:
            continue
        if file_offset >= end:
            break
        yield from _zeros(file_offset - position)  # a hole before this extent
        position = max(position, file_offset)
        while position < stop:
            n = min(READ_CHUNK, stop - position)
            if image < 0:
                yield bytes(n)
            else:
                at = image + position - file_offset
                chunk = os.pread(fd, n, at)
                if len(chunk) != n:
                    raise FileRecoveryError(f"short read of the disk image at offset {at}")
                yield chunk
            position += n
    yield from _zeros(end - position)


def _zeros(n: int) -> Iterator[bytes]:
    while n > 0:
        step = min(n, READ_CHUNK)
        yield bytes(step)
        n -= step


def slice_chunks(chunks: Iterable[bytes], offset: int, length: int | None) -> Iterator[bytes]:
    """The bytes [offset, offset + length) of a stream of chunks."""
    position = 0
    end = None if length is None else offset + length
    for chunk in chunks:
        start, stop = position, position + len(chunk)
        position = stop
        if stop <= offset:
            continue
        if end is not None and start >= end:
            break
        lo = max(offset - start, 0)
        hi = len(chunk) if end is None else min(end - start, len(chunk))
        yield chunk[lo:hi] if (lo, hi) != (0, len(chunk)) else chunk
        if end is not None and stop >= end:
            break
