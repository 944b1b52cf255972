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


class WorkloadKeyError(VaultError):
    """A workload encrypted with its own key cannot be used: its key is not unlocked, there is no key,
    or the secret given does not unwrap it. ``workload_id`` names the workload."""

    def __init__(self, message: str, workload_id: str) -> None:
        super().__init__(message)
        self.workload_id = workload_id


class WorkloadKeyLocked(WorkloadKeyError):
    """The workload's data is encrypted with its own key, which nobody unlocked with its secret."""


class WorkloadKeyMissing(WorkloadKeyError):
    """The workload has no key object on the target (never created, or deleted with the workload)."""


class WrongWorkloadSecret(WorkloadKeyError):
    """The secret's payload does not unwrap the workload's key (another secret, or a changed one)."""


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
    "WorkloadKeyError",
    "WorkloadKeyLocked",
    "WorkloadKeyMissing",
    "WrongPassword",
    "WrongWorkloadSecret",
]
