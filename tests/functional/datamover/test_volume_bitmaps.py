"""Raw disks (attached volumes) of a running domain: QEMU's in-memory dirty bitmaps give an incremental
its changed extents; a lost bitmap (QEMU restarted) falls back to a read where allocated, with a note; a
failed backup keeps the chain."""

from __future__ import annotations

import hashlib

import pytest

from t4o.datamover.disks import DomainBackup
from t4o.datamover.disks.read_ahead import blocks_over
from t4o.datamover.disks.volume_bitmaps import BITMAP_PREFIX, bitmap_name, device_nodes
from tests.functional.datamover.scratch_domains import MiB, granular, read_all, read_extents


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def our_bitmaps(dom, target: str = "vdb") -> list[str]:
    node = device_nodes(dom)[f"ua-{target}"]
    return sorted(n for n in node.bitmaps if n.startswith(BITMAP_PREFIX))


def full_backup(conn, td, name: str = "snap-1") -> bytes:
    with DomainBackup(conn, td.name, name) as backup:
        vdb = backup.disk("vdb")
        assert not vdb.incremental and vdb.note == ""
        data = read_all(vdb)
        backup.commit()
    assert our_bitmaps(td.dom) == [bitmap_name(name)]
    return data


def test_raw_disk_incrementals_read_only_what_changed(conn, make_domain) -> None:
    td = make_domain({"vda": ("qcow2", 16 * MiB), "vdb": ("raw", 64 * MiB)})
    td.write("vdb", 0, 20 * MiB, 0x01)
    full = full_backup(conn, td)
    assert sha(full) == td.sha256("vdb")

    writes = [(1 * MiB + 100, 10), (30 * MiB, 3 * MiB), (63 * MiB - 4096, 4096)]
    for off, length in writes:
        td.write("vdb", off, length, 0x02)
    at_point = bytes(td.model["vdb"])
    late = (10 * MiB, 4096)
    with DomainBackup(conn, td.name, "snap-2", parent="snap-1") as backup:
        vdb = backup.disk("vdb")
        td.write("vdb", *late, 0x03)  # after the point: not in this snapshot's view
        assert vdb.incremental and vdb.note == ""
        changed = vdb.changed_extents()
        # every write before the point is there at the bitmap's granularity; one after it may be too
        assert changed in (granular(writes), granular([*writes, late]))
        assert set(vdb._blocks_to_read(MiB)) <= blocks_over(changed, vdb.size, MiB)  # read-ahead plan
        second = read_extents(vdb, vdb.size, changed, base=full)
        assert sha(second) == sha(at_point)
        backup.commit()
    assert our_bitmaps(td.dom) == [bitmap_name("snap-2")]

    # the write made after snap-2's point belongs to snap-3
    more = [(40 * MiB, 64 * 1024)]
    for off, length in more:
        td.write("vdb", off, length, 0x04)
    with DomainBackup(conn, td.name, "snap-3", parent="snap-2") as backup:
        vdb = backup.disk("vdb")
        changed = vdb.changed_extents()
        assert changed == granular([*more, late])
        assert sha(read_extents(vdb, vdb.size, changed, base=second)) == td.sha256("vdb")
        backup.commit()
    assert our_bitmaps(td.dom) == [bitmap_name("snap-3")]


def test_failed_backup_keeps_the_raw_disks_chain(conn, make_domain) -> None:
    td = make_domain({"vda": ("qcow2", 16 * MiB), "vdb": ("raw", 16 * MiB)})
    full_backup(conn, td)
    td.write("vdb", 1 * MiB, 4096, 0x0A)
    with pytest.raises(RuntimeError), DomainBackup(conn, td.name, "snap-2", parent="snap-1"):
        raise RuntimeError("the backup target failed")
    assert our_bitmaps(td.dom) == [bitmap_name("snap-1")]  # the failed attempt's bitmap went
    td.write("vdb", 3 * MiB, 4096, 0x0B)
    with DomainBackup(conn, td.name, "snap-2", parent="snap-1") as backup:
        # the writes before the failed attempt are still tracked
        assert backup.disk("vdb").changed_extents() == granular([(1 * MiB, 4096), (3 * MiB, 4096)])


def test_bitmap_lost_with_qemu_falls_back_to_a_full_read_then_tracks_again(conn, make_domain) -> None:
    td = make_domain({"vda": ("qcow2", 16 * MiB), "vdb": ("raw", 16 * MiB)})
    td.write("vdb", 0, 2 * MiB, 0x01)
    full_backup(conn, td)
    td.dom.destroy()  # a stop/start: a new QEMU, whose nodes carry no bitmap of ours
    td.dom.create()
    td.write("vdb", 4 * MiB, 4096, 0x02)
    td.write("vda", 0, 4096, 0x02)
    with DomainBackup(conn, td.name, "snap-2", parent="snap-1") as backup:
        vda, vdb = backup.disk("vda"), backup.disk("vdb")
        assert vda.incremental  # the qcow2 disk's bitmap is persistent
        assert not vdb.incremental and "no dirty bitmap since checkpoint snap-1" in vdb.note
        assert vdb.changed_extents() == vdb.data_extents()
        assert sha(read_extents(vdb, vdb.size, vdb.changed_extents())) == td.sha256("vdb")
        backup.commit()
    td.write("vdb", 8 * MiB, 4096, 0x03)
    with DomainBackup(conn, td.name, "snap-3", parent="snap-2") as backup:
        vdb = backup.disk("vdb")
        assert vdb.incremental and vdb.changed_extents() == granular([(8 * MiB, 4096)])


def test_shut_off_domain_reads_raw_disks_where_allocated(conn, make_domain) -> None:
    td = make_domain({"vda": ("qcow2", 16 * MiB), "vdb": ("raw", 16 * MiB)})
    td.write("vdb", 0, 1 * MiB, 0x01)
    full_backup(conn, td)
    td.dom.destroy()
    with DomainBackup(conn, td.name, "snap-2", parent="snap-1") as backup:
        vdb = backup.disk("vdb")
        assert not vdb.incremental and "shut off" in vdb.note
        assert sha(read_extents(vdb, vdb.size, vdb.changed_extents())) == td.sha256("vdb")
    assert not td.dom.isActive()
