"""A directory as a tar stream (POSIX pax: long and unicode names, sizes over 8 GiB, exact mtimes),
produced while it is read: headers and file bytes are yielded as they come, nothing is staged.

Member names and link targets carry the exact bytes of the names: one that is not UTF-8 goes into
its pax header with ``hdrcharset=BINARY`` (GNU tar and Python's tarfile read it back as those bytes).
Regular files, directories and symlinks are archived with their mode, owner and mtime; hard links
come out as separate files; devices, fifos and sockets are left out (their device numbers are not
read) and logged.
"""

from __future__ import annotations

import logging
import posixpath
import tarfile
from collections.abc import Iterator

from t4o.filerecovery.entries import DIRECTORY, FILE, SYMLINK, Entry
from t4o.filerecovery.errors import NotADirectory
from t4o.filerecovery.reader import FilesystemReader
from t4o.filerecovery.search import LEVEL_BATCH, walk

LOG = logging.getLogger(__name__)

BLOCK = tarfile.BLOCKSIZE  # 512


def tar_directory(reader: FilesystemReader, path: str) -> Iterator[bytes]:
    """The tar stream of the directory at ``path``; members are named from the directory's own name
    (``etc/hosts`` for ``/etc``; ``./hosts`` style for the root)."""
    top = reader.resolve(path)
    if top.type != DIRECTORY:
        raise NotADirectory(f"{top.path}: not a directory")
    prefix = top.name if top.path != "/" else "."
    yield _header(top, prefix)
    pending: list[str] = []
    for child, _ in walk(reader, top.path):
        pending.append(child)
        if len(pending) >= LEVEL_BATCH:
            yield from _members(reader, top.path, prefix, pending)
            pending = []
    yield from _members(reader, top.path, prefix, pending)
    yield bytes(2 * BLOCK)  # end of archive


def _members(reader: FilesystemReader, base: str, prefix: str, paths: list[str]) -> Iterator[bytes]:
    if not paths:
        return
    for entry in reader.stat_many(paths):
        if entry is None:
            continue
        name = posixpath.join(prefix, posixpath.relpath(entry.path, base))
        if entry.type not in (FILE, DIRECTORY, SYMLINK):
            LOG.info("tar of %s: %s left out (%s)", base, entry.path, entry.type)
            continue
        yield _header(entry, name)
        if entry.type == FILE and entry.size:
            yield from reader.read_entry(entry)
            if entry.size % BLOCK:
                yield bytes(BLOCK - entry.size % BLOCK)


def _header(entry: Entry, name: str) -> bytes:
    info = tarfile.TarInfo(name)
    info.mode = entry.permissions
    info.uid, info.gid = entry.uid, entry.gid
    info.mtime = entry.mtime
    if entry.type == DIRECTORY:
        info.type = tarfile.DIRTYPE
    elif entry.type == SYMLINK:
        info.type = tarfile.SYMTYPE
        info.linkname = entry.link_target or ""
    else:
        info.type = tarfile.REGTYPE
        info.size = entry.size
    return info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape")
