"""Errors of the vault. Each message is one line that says what failed and what to do about it."""

from __future__ import annotations

from t4o.vault.backend import BackendError, NotSupported, ObjectLocked, ObjectNotFound


class VaultError(Exception):
    """Base of every vault error that is not a plain backend failure."""


class RepositoryNotFound(VaultError):
    """No repository (no ``config`` object) at that location."""


class RepositoryExists(VaultError):
    """``init`` on a location that already holds a repository."""


class PasswordRequired(VaultError):
    """The repository is password-protected and no password was given."""


class WrongPassword(VaultError):
    """The password does not unlock the repository's keys."""


class CorruptRepository(VaultError):
    """An object of the repository is unreadable, truncated or fails its checksum."""


class SnapshotNotFound(VaultError):
    """No snapshot (or no such disk in the snapshot) under that id."""


class SourceError(VaultError):
    """The disk being backed up cannot be read, shrank or vanished."""


class TargetError(VaultError):
    """The restore target cannot be written."""


class InvalidArgument(VaultError):
    """A caller-given value is malformed (an id, an extent, a format)."""


__all__ = [
    "BackendError",
    "CorruptRepository",
    "InvalidArgument",
    "NotSupported",
    "ObjectLocked",
    "ObjectNotFound",
    "PasswordRequired",
    "RepositoryExists",
    "RepositoryNotFound",
    "SnapshotNotFound",
    "SourceError",
    "TargetError",
    "VaultError",
    "WrongPassword",
]
