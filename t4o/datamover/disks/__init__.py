"""Disk access for the datamover: point-in-time sources (libvirt domains, image files) and restore writers.

See docs/datamover-disks.md for the source protocol the vault reads through.
"""

from t4o.datamover.disks.consistency import Consistency
from t4o.datamover.disks.errors import (
    BrokenChainError,
    DiskError,
    DomainNotFound,
    DomainStateError,
    LibvirtUnavailable,
    NbdError,
    QemuToolError,
)
from t4o.datamover.disks.file_source import FileDiskSource
from t4o.datamover.disks.libvirt_conn import connect
from t4o.datamover.disks.libvirt_source import DomainBackup, DomainDisk, LibvirtDiskSource, list_disks
from t4o.datamover.disks.protocol import DiskSource, DiskWriter, Extent, ExtentSource
from t4o.datamover.disks.writers import (
    NbdDiskWriter,
    copy_disk,
    create_file_writer,
    open_domain_disk_writer,
    open_file_writer,
)

__all__ = [
    "BrokenChainError",
    "Consistency",
    "DiskError",
    "DiskSource",
    "DiskWriter",
    "DomainBackup",
    "DomainDisk",
    "DomainNotFound",
    "DomainStateError",
    "Extent",
    "ExtentSource",
    "FileDiskSource",
    "LibvirtDiskSource",
    "LibvirtUnavailable",
    "NbdDiskWriter",
    "NbdError",
    "QemuToolError",
    "connect",
    "copy_disk",
    "create_file_writer",
    "list_disks",
    "open_domain_disk_writer",
    "open_file_writer",
]
