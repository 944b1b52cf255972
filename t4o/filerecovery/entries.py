"""What a filesystem reader returns: one ``Entry`` per file, and the paths they live at."""

from __future__ import annotations

import posixpath
import stat as statmod
from dataclasses import dataclass

from t4o.filerecovery.errors import InvalidPath
from t4o.filerecovery.names import raw_base64, readable

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

    # Names and paths are str with each byte that is not UTF-8 as a lone surrogate (``names``).
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
        """The entry as the browse and search calls return it: valid text in ``name``, ``path`` and
        ``link_target`` (U+FFFD for each byte that is not UTF-8); when one is not valid UTF-8, its exact
        bytes in base64 as ``name_raw``, ``path_raw``, ``link_target_raw``."""
        out: dict[str, object] = {
            "name": readable(self.name),
            "path": readable(self.path),
            "type": self.type,
            "size": self.size,
            "mode": f"{self.permissions:04o}",
            "mtime": self.mtime,
            "uid": self.uid,
            "gid": self.gid,
            "link_target": None if self.link_target is None else readable(self.link_target),
        }
        raws = {"name_raw": self.name, "path_raw": self.path, "link_target_raw": self.link_target}
        for key, text in raws.items():
            if text is not None and (raw := raw_base64(text)) is not None:
                out[key] = raw
        return out


def normalize(path: str) -> str:
    """An absolute path without ``.``, ``..`` or doubled slashes; "" and "/" are the root.

    ``..`` never climbs above the root (as in a chroot). Raises ``InvalidPath`` for a path with a
    NUL byte, which no file name holds (a newline is a valid, if rare, byte of a name).
    """
    if "\0" in path:
        raise InvalidPath(f"invalid path {readable(path)!r}: NUL byte in a path")
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
