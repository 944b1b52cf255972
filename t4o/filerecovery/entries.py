"""What a filesystem reader returns: one ``Entry`` per file, and the paths they live at."""

from __future__ import annotations

import posixpath
import stat as statmod
from dataclasses import dataclass

from t4o.filerecovery.errors import InvalidPath

# The entry types, as the browse API shows them.
FILE = "file"
DIRECTORY = "directory"
SYMLINK = "symlink"
CHARDEV = "chardev"
BLOCKDEV = "blockdev"
FIFO = "fifo"
SOCKET = "socket"
UNKNOWN = "unknown"

_TYPE_OF_FMT = {
    statmod.S_IFREG: FILE,
    statmod.S_IFDIR: DIRECTORY,
    statmod.S_IFLNK: SYMLINK,
    statmod.S_IFCHR: CHARDEV,
    statmod.S_IFBLK: BLOCKDEV,
    statmod.S_IFIFO: FIFO,
    statmod.S_IFSOCK: SOCKET,
}


def type_of_mode(mode: int) -> str:
    """The entry type of a full ``st_mode`` (file type bits included)."""
    return _TYPE_OF_FMT.get(statmod.S_IFMT(mode), UNKNOWN)


@dataclass(frozen=True)
class Entry:
    """One file of a filesystem, as a directory listing or a stat shows it."""

    path: str  # absolute, normalised ("/etc/hosts")
    name: str  # last component ("" for the root... shown as "/")
    type: str  # FILE, DIRECTORY, SYMLINK, ...
    size: int  # bytes (a symlink: the target's length; a directory: as the filesystem records it)
    mode: int  # full st_mode, type bits included
    mtime: int  # seconds since the epoch (UTC)
    inode: int
    uid: int = 0
    gid: int = 0
    link_target: str | None = None  # symlinks only

    @property
    def permissions(self) -> int:
        return statmod.S_IMODE(self.mode)

    def as_dict(self) -> dict[str, object]:
        """The entry as the browse and search calls return it."""
        return {
            "name": self.name,
            "path": self.path,
            "type": self.type,
            "size": self.size,
            "mode": f"{self.permissions:04o}",
            "mtime": self.mtime,
            "uid": self.uid,
            "gid": self.gid,
            "link_target": self.link_target,
        }


def normalize(path: str) -> str:
    """An absolute path without ``.``, ``..`` or doubled slashes; "" and "/" are the root.

    ``..`` never climbs above the root (as in a chroot). Raises ``InvalidPath`` for a path with a
    newline, carriage return or NUL byte: the tools read commands line by line.
    """
    if any(c in path for c in "\n\r\0"):
        raise InvalidPath(f"invalid path {path!r}: newline or NUL byte in a path")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


def join(directory: str, name: str) -> str:
    return posixpath.join(directory, name) if directory != "/" else "/" + name


def basename(path: str) -> str:
    return posixpath.basename(path) or "/"
