"""Errors of file recovery. Each message is one line that names the path, disk or tool that failed."""

from __future__ import annotations


class FileRecoveryError(Exception):
    """Base of every file recovery error."""


class InvalidPath(FileRecoveryError):
    """A path that cannot name a file (a NUL byte in it), or a path_raw that is not base64."""


class NotFound(FileRecoveryError):
    """No file or directory at that path (or no such partition on the disk)."""


class NotADirectory(FileRecoveryError):
    """A directory operation (list, walk) on something that is not a directory."""


class IsADirectory(FileRecoveryError):
    """A file read on a directory (read it as a tar stream instead)."""


class UnsupportedFilesystem(FileRecoveryError):
    """The volume holds no filesystem this package reads (the message names what was found)."""


class ToolError(FileRecoveryError):
    """An external tool (debugfs, xfs_db, nbdfuse, nbdkit) failed, timed out or is not installed."""
