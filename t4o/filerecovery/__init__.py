"""File-level recovery: the files of a snapshot disk without restoring the VM.

Layers, bottom up:

- ``source``: the disk as a local file: a raw image as it is, an NBD export (a snapshot disk served
  read-only from the vault) through ``nbdfuse``, so tools read only the blocks they need;
- ``partitions``: the volumes of the disk (bare filesystem, MBR with logical partitions, GPT) and
  what each holds, by superblock magic; pure parsing of a few sectors;
- ``ext`` (debugfs) and ``xfs`` (xfs_db plus direct extent reads): one ``FilesystemReader`` each
  (``reader``): stat, list, read a file (range), resolve symlinks inside the filesystem;
- ``search``: breadth-first walks, and the file search by path, glob or regex;
  ``tarstream``: a directory as a streamed pax tar;
- ``disk``: ``open_disk(source)`` ties them: ``disk.volumes``, ``disk.filesystem(partition)``.

Why these tools: no kernel nbd, loop or mount is available to the service (containers, no root), and
libguestfs boots an appliance (14-19 s under TCG) per disk; debugfs and xfs_db answer from the image
in milliseconds. LVM is recognised and reported, not read yet.

Errors are ``FileRecoveryError`` subclasses (``NotFound``, ``NotADirectory``, ``IsADirectory``,
``InvalidPath``, ``UnsupportedFilesystem``, ``ToolError``), each with a one-line message.
"""

from __future__ import annotations

from t4o.filerecovery.disk import Disk, open_disk
from t4o.filerecovery.entries import Entry
from t4o.filerecovery.errors import (
    FileRecoveryError,
    InvalidPath,
    IsADirectory,
    NotADirectory,
    NotFound,
    ToolError,
    UnsupportedFilesystem,
)
from t4o.filerecovery.partitions import Volume
from t4o.filerecovery.reader import FilesystemReader
from t4o.filerecovery.search import SearchResult, search, walk
from t4o.filerecovery.tarstream import tar_directory

__all__ = [
    "Disk",
    "Entry",
    "FileRecoveryError",
    "FilesystemReader",
    "InvalidPath",
    "IsADirectory",
    "NotADirectory",
    "NotFound",
    "SearchResult",
    "ToolError",
    "UnsupportedFilesystem",
    "Volume",
    "open_disk",
    "search",
    "tar_directory",
    "walk",
]
