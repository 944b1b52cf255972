"""The vault: T4O's backup repository (content-addressed, deduplicated, optionally encrypted).

Public API::

    repo = Repository.init(open_backend("/mnt/backups"), password="...")
    m = repo.backup_disk("/dev/vdb", "vdb", workload_id="wl-1")
    repo.restore_disk(m.ref, "vdb.qcow2", fmt="qcow2")
"""

from t4o.vault.backend import Backend, ObjectInfo
from t4o.vault.errors import (
    BackendError,
    CorruptRepository,
    InvalidArgument,
    NotSupported,
    ObjectLocked,
    ObjectNotFound,
    PasswordRequired,
    RepositoryExists,
    RepositoryNotFound,
    SnapshotNotFound,
    SourceError,
    TargetError,
    VaultError,
    WrongPassword,
)
from t4o.vault.gc import GcReport
from t4o.vault.leases import LeaseLost
from t4o.vault.manifest import Manifest
from t4o.vault.posix import PosixBackend
from t4o.vault.progress import Progress
from t4o.vault.repository import Repository
from t4o.vault.url import open_backend
from t4o.vault.verify import VerifyReport

__all__ = [
    "Backend",
    "BackendError",
    "CorruptRepository",
    "GcReport",
    "InvalidArgument",
    "LeaseLost",
    "Manifest",
    "NotSupported",
    "ObjectInfo",
    "ObjectLocked",
    "ObjectNotFound",
    "PasswordRequired",
    "PosixBackend",
    "Progress",
    "Repository",
    "RepositoryExists",
    "RepositoryNotFound",
    "SnapshotNotFound",
    "SourceError",
    "TargetError",
    "VaultError",
    "VerifyReport",
    "WrongPassword",
    "open_backend",
]
