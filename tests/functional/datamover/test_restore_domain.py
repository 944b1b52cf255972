"""Restores of a domain's snapshot: into new files, and in place into the shut-off domain's disks."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from t4o.datamover.disks import (
    DomainBackup,
    DomainStateError,
    copy_disk,
    create_file_writer,
    open_domain_disk_writer,
)
from tests.functional.datamover.scratch_domains import MiB, granular, image_sha256, read_extents


def test_restore_from_a_backup_into_new_files(conn, make_domain, tmp_path: Path) -> None:
    td = make_domain({"vda": ("qcow2", 32 * MiB), "vdb": ("raw", 8 * MiB)})
    td.write("vda", 3 * MiB, 700 * 1024, 0x42)
    td.write("vdb", 0, 64 * 1024, 0x24)
    with DomainBackup(conn, td.name, "snap-1") as backup:
        for disk, fmt in ((backup.disk("vda"), "qcow2"), (backup.disk("vdb"), "raw")):
            out = str(tmp_path / f"{disk.target}.{fmt}")
            with create_file_writer(out, fmt, disk.size) as writer:
                copy_disk(disk, writer, disk.changed_extents())
            assert image_sha256(out, fmt) == td.sha256(disk.target)


def test_in_place_restore_into_the_shut_off_domain(conn, make_domain) -> None:
    td = make_domain({"vda": ("qcow2", 32 * MiB)})
    td.write("vda", 1 * MiB, 2 * MiB, 0x61)
    with DomainBackup(conn, td.name, "snap-1") as backup:
        disk = backup.disk("vda")
        snapshot = read_extents(disk, disk.size, disk.changed_extents())
        extents = disk.changed_extents()
        backup.commit()
    wanted = hashlib.sha256(snapshot).hexdigest()
    td.write("vda", 0, 4 * MiB, 0x62)  # the guest changes everything afterwards
    td.write("vda", 20 * MiB, 1 * MiB, 0x63)

    with pytest.raises(DomainStateError, match="is running"):
        open_domain_disk_writer(conn, td.name, "vda", 32 * MiB)
    td.dom.destroy()

    class Snapshot:  # what the vault hands back: the stored bytes
        size = 32 * MiB

        def read(self, offset: int, length: int) -> bytes:
            return snapshot[offset : offset + length]

    with open_domain_disk_writer(conn, td.name, "vda", 32 * MiB) as writer:
        copy_disk(Snapshot(), writer, extents)
    assert td.file_sha256("vda") == wanted

    # The checkpoint stays valid: the restore's writes were tracked in its bitmap.
    td.model["vda"][:] = snapshot
    td.dom.create()
    with DomainBackup(conn, td.name, "snap-2", parent="snap-1") as backup:
        disk = backup.disk("vda")
        assert disk.changed_extents() == granular([(0, 4 * MiB), (20 * MiB, 1 * MiB)])
        assert (
            hashlib.sha256(read_extents(disk, disk.size, disk.changed_extents(), snapshot)).hexdigest()
            == wanted
        )
