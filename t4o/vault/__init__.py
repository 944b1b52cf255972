"""The vault: T4O's backup repository (content-addressed, deduplicated, optionally encrypted).

Public API (nothing outside this package imports its modules)::

    repo = open_target(url)                    # or open_configured_target(): the [backup_target]
    m = backup_source(repo, source, "vda", workload_id="wl-1", parent=ref, changed_extents=extents)
    restore_to_writer(repo, m.ref, writer)     # any block writer: write/write_zeroes/flush/size
    assert disk_checksum(repo, m, source) == m.checksum
    with DiskReader(repo, m.ref) as disk:      # random reads: only the chunks that cover the range
        disk.read(offset, length)
    with NbdExport(disk, socket_path=path):    # the same, read-only over NBD for qemu, nbdfuse, ...

A workload encrypted with a key of its own (wrapped by a secret kept outside the target) is unlocked
with the secret's payload before its disks or documents are written or read::

    repo.create_workload_key("wl-1", secret_ref, payload)   # once, before its first backup
    repo.unlock_workload("wl-1", payload)                    # any later process
    repo.rewrap_workload_key("wl-1", payload, new_ref, new_payload)   # rotation, no data rewritten

``source`` is a path (file or block device, raw or qcow2) or any object with ``size`` and
``read(offset, length)`` (optionally ``data_extents()``). ``Repository.backup_disk`` and
``restore_disk`` are the same calls for paths, as the ``t4o-vault`` command uses them.
"""

from t4o.vault.archive import Archive
from t4o.vault.backend import Backend, ObjectInfo
from t4o.vault.backup import backup_source
from t4o.vault.disk_reader import DiskReader, ReaderStats
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
    WorkloadKeyError,
    WorkloadKeyLocked,
    WorkloadKeyMissing,
    WrongPassword,
    WrongWorkloadSecret,
)
from t4o.vault.gc import GcReport
from t4o.vault.leases import LeaseLost
from t4o.vault.manifest import Manifest
from t4o.vault.nbd_export import NbdExport
from t4o.vault.posix import PosixBackend
from t4o.vault.progress import Progress, ProgressCallback
from t4o.vault.repository import Repository
from t4o.vault.restore import disk_checksum, restore_to_writer
from t4o.vault.store import Store
from t4o.vault.target import (
    TARGET_OPTS,
    TargetHoldsNoVault,
    TargetUnavailable,
    list_opts,
    mount_point_of,
    open_configured_target,
    open_repository,
    open_spec,
    open_target,
    register_opts,
    target_spec,
)
from t4o.vault.url import open_backend
from t4o.vault.verify import VerifyReport

__all__ = [
    "TARGET_OPTS",
    "Archive",
    "Backend",
    "BackendError",
    "CorruptRepository",
    "DiskReader",
    "GcReport",
    "InvalidArgument",
    "LeaseLost",
    "Manifest",
    "NbdExport",
    "NotSupported",
    "ObjectInfo",
    "ObjectLocked",
    "ObjectNotFound",
    "PasswordRequired",
    "PosixBackend",
    "Progress",
    "ProgressCallback",
    "ReaderStats",
    "Repository",
    "RepositoryExists",
    "RepositoryNotFound",
    "SnapshotNotFound",
    "SourceError",
    "Store",
    "TargetError",
    "TargetHoldsNoVault",
    "TargetUnavailable",
    "VaultError",
    "VerifyReport",
    "WorkloadKeyError",
    "WorkloadKeyLocked",
    "WorkloadKeyMissing",
    "WrongPassword",
    "WrongWorkloadSecret",
    "backup_source",
    "disk_checksum",
    "list_opts",
    "mount_point_of",
    "open_backend",
    "open_configured_target",
    "open_repository",
    "open_spec",
    "open_target",
    "register_opts",
    "restore_to_writer",
    "target_spec",
]
