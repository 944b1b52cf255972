"""Point-in-time reads of running and shut-off libvirt domains: full, incrementals, broken chains."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time

import pytest

from t4o.datamover.agent import operations
from t4o.datamover.agent.operations import clear_abandoned, forget_checkpoint, redefine_checkpoint
from t4o.datamover.agent.transfers import Transfer, TransferCancelled
from t4o.datamover.disks import (
    BrokenChainError,
    Consistency,
    DiskError,
    DomainBackup,
    DomainNotFound,
    list_disks,
)
from t4o.vault import open_repository
from tests.functional.datamover.scratch_domains import MiB, granular, read_all, read_extents


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_list_disks_running_and_shut_off(conn, make_domain) -> None:
    td = make_domain({"vda": ("qcow2", 64 * MiB), "vdb": ("raw", 8 * MiB)}, start=False)
    expected = {"vda": ("qcow2", 64 * MiB, td.disks["vda"][0]), "vdb": ("raw", 8 * MiB, td.disks["vdb"][0])}
    got = {d.target: (d.format, d.size, d.source) for d in list_disks(td.dom)}
    assert got == expected
    td.dom.create()
    assert {d.target: (d.format, d.size, d.source) for d in list_disks(td.dom)} == expected


def test_full_read_equals_disk_and_skips_zero_regions(conn, make_domain) -> None:
    td = make_domain({"vda": ("qcow2", 64 * MiB), "vdb": ("raw", 8 * MiB)})
    td.write("vda", 1 * MiB, 64 * 1024, 0xAB)
    td.write("vda", 10 * MiB + 4096, 300 * 1024, 0x5C)
    td.write("vdb", 2 * MiB, 1 * MiB, 0x77)
    with DomainBackup(conn, td.name, "snap-1") as backup:
        assert backup.consistency == Consistency.CRASH
        assert "no guest agent" in backup.consistency_reason
        vda, vdb = backup.disk("vda"), backup.disk("vdb")
        assert not vda.incremental and vda.size == 64 * MiB
        # qcow2 reports allocation per 64 KiB cluster: only written clusters are to be read
        assert vda.changed_extents() == granular([(1 * MiB, 64 * 1024), (10 * MiB + 4096, 300 * 1024)])
        assert sum(n for _, n in vdb.changed_extents()) <= 1 * MiB + 64 * 1024
        for disk in (vda, vdb):
            assert sha(read_extents(disk, disk.size, disk.changed_extents())) == td.sha256(disk.target)
            assert sha(read_all(disk)) == td.sha256(disk.target)
        backup.commit()
    assert [c.getName() for c in td.dom.listAllCheckpoints()] == ["snap-1"]
    td.dom.destroy()
    assert td.file_sha256("vda") == td.sha256("vda")


def test_view_is_frozen_while_the_guest_keeps_writing(conn, make_domain) -> None:
    td = make_domain({"vda": ("qcow2", 16 * MiB)})
    td.write("vda", 0, 1 * MiB, 0x11)
    frozen = td.sha256("vda")
    with DomainBackup(conn, td.name, "snap-1") as backup:
        td.write("vda", 512 * 1024, 1 * MiB, 0x22)
        assert sha(read_all(backup.disk("vda"))) == frozen
    assert td.dom.jobInfo()[0] == 0  # no job left running


def test_incrementals_read_exactly_the_changed_extents(conn, make_domain) -> None:
    td = make_domain({"vda": ("qcow2", 64 * MiB)})
    td.write("vda", 0, 2 * MiB, 0x01)
    with DomainBackup(conn, td.name, "snap-1") as backup:
        full = read_all(backup.disk("vda"))
        backup.commit()

    writes = [(1 * MiB + 100, 10), (5 * MiB, 100 * 1024), (40 * MiB - 4096, 8192)]
    for off, length in writes:
        td.write("vda", off, length, 0x02)
    with DomainBackup(conn, td.name, "snap-2", parent="snap-1") as backup:
        disk = backup.disk("vda")
        assert disk.incremental
        assert disk.changed_extents() == granular(writes)
        first = read_extents(disk, disk.size, disk.changed_extents(), base=full)
        assert sha(first) == td.sha256("vda")
        assert backup.commit() == ["snap-1"]

    more = [(5 * MiB + 64 * 1024, 4096), (60 * MiB, 1 * MiB)]
    for off, length in more:
        td.write("vda", off, length, 0x03)
    with DomainBackup(conn, td.name, "snap-3", parent="snap-2") as backup:
        disk = backup.disk("vda")
        assert disk.changed_extents() == granular(more)
        assert sha(read_extents(disk, disk.size, disk.changed_extents(), base=first)) == td.sha256("vda")
        backup.commit()
    assert [c.getName() for c in td.dom.listAllCheckpoints()] == ["snap-3"]


def test_failed_backup_drops_its_checkpoint_and_keeps_the_chain(conn, make_domain) -> None:
    td = make_domain({"vda": ("qcow2", 16 * MiB)})
    with DomainBackup(conn, td.name, "snap-1") as backup:
        backup.commit()
    td.write("vda", 1 * MiB, 4096, 0x0A)
    with pytest.raises(RuntimeError), DomainBackup(conn, td.name, "snap-2", parent="snap-1"):
        raise RuntimeError("the backup target failed")
    assert [c.getName() for c in td.dom.listAllCheckpoints()] == ["snap-1"]
    td.write("vda", 3 * MiB, 4096, 0x0B)
    with DomainBackup(conn, td.name, "snap-2", parent="snap-1") as backup:
        # the writes before the failed attempt are still tracked
        assert backup.disk("vda").changed_extents() == granular([(1 * MiB, 4096), (3 * MiB, 4096)])


def test_missing_checkpoint_is_a_broken_chain(conn, make_domain) -> None:
    td = make_domain({"vda": ("qcow2", 16 * MiB)})
    with DomainBackup(conn, td.name, "snap-1") as backup:
        backup.commit()
    # e.g. the domain was re-created, or someone removed the checkpoint
    td.dom.checkpointLookupByName("snap-1").delete()
    with pytest.raises(BrokenChainError, match="checkpoint snap-1 is missing"):
        DomainBackup(conn, td.name, "snap-2", parent="snap-1").start()
    assert td.dom.listAllCheckpoints() == []
    with DomainBackup(conn, td.name, "snap-2") as backup:  # the caller's fallback: a full backup
        assert not backup.disk("vda").incremental


def test_lost_bitmap_is_a_broken_chain(conn, make_domain) -> None:
    td = make_domain({"vda": ("qcow2", 16 * MiB)})
    with DomainBackup(conn, td.name, "snap-1") as backup:
        backup.commit()
    td.dom.destroy()
    # the image was replaced or converted: libvirt still has the checkpoint, the qcow2 lost its bitmap
    path = td.disks["vda"][0]
    subprocess.run(["qemu-img", "bitmap", "--remove", path, "snap-1"], check=True)
    td.dom.create()
    with pytest.raises(BrokenChainError, match="missing or broken bitmap 'snap-1'"):
        DomainBackup(conn, td.name, "snap-2", parent="snap-1").start()
    assert [c.getName() for c in td.dom.listAllCheckpoints()] == ["snap-1"]
    assert td.dom.jobInfo()[0] == 0


def test_shut_off_domain_is_read_and_stays_off(conn, make_domain) -> None:
    td = make_domain({"vda": ("qcow2", 16 * MiB)})
    with DomainBackup(conn, td.name, "snap-1") as backup:
        backup.commit()
    td.write("vda", 2 * MiB, 8192, 0x3C)
    td.dom.destroy()
    with DomainBackup(conn, td.name, "snap-2", parent="snap-1") as backup:
        assert "shut off" in backup.consistency_reason
        disk = backup.disk("vda")
        assert disk.changed_extents() == granular([(2 * MiB, 8192)])
        assert disk.read(2 * MiB, 8192) == b"\x3c" * 8192
        backup.commit()
    assert not td.dom.isActive()
    assert [c.getName() for c in td.dom.listAllCheckpoints()] == ["snap-2"]


def test_unknown_disk_and_duplicate_checkpoint_are_refused(conn, make_domain) -> None:
    td = make_domain({"vda": ("qcow2", 16 * MiB)})
    with pytest.raises(DomainNotFound, match="no libvirt domain 'no-such-domain'"):
        DomainBackup(conn, "no-such-domain", "snap-1")
    with pytest.raises(DiskError, match="has no disk vdz"):
        DomainBackup(conn, td.name, "snap-1", targets=["vdz"]).start()
    with DomainBackup(conn, td.name, "snap-1") as backup:
        backup.commit()
    with pytest.raises(DiskError, match="checkpoint snap-1 exists already"):
        DomainBackup(conn, td.name, "snap-1").start()


def test_qemu_crash_leaves_an_inconsistent_bitmap_and_a_broken_chain(conn, make_domain) -> None:
    td = make_domain({"vda": ("qcow2", 16 * MiB)})
    with DomainBackup(conn, td.name, "snap-1") as backup:
        backup.commit()
    td.write("vda", 0, 4096, 0x01)
    # QEMU dies without storing its bitmaps: the qcow2 keeps them flagged in use, i.e. inconsistent
    with open(f"/run/libvirt/qemu/{td.name}.pid") as f:
        os.kill(int(f.read()), signal.SIGKILL)
    deadline = time.monotonic() + 30
    while td.dom.isActive() and time.monotonic() < deadline:
        time.sleep(0.1)
    td.dom.create()
    with pytest.raises(BrokenChainError, match="missing or broken bitmap 'snap-1'"):
        DomainBackup(conn, td.name, "snap-2", parent="snap-1").start()
    with DomainBackup(conn, td.name, "snap-2") as backup:  # the fallback full still reads the data
        assert backup.disk("vda").read(0, 4096) == b"\x01" * 4096


def test_guest_agent_that_does_not_answer_gives_crash_consistent_in_bounded_time(conn, make_domain) -> None:
    td = make_domain({"vda": ("qcow2", 16 * MiB)}, agent=True)
    started = time.monotonic()
    with DomainBackup(conn, td.name, "snap-1", agent_timeout=2) as backup:
        assert backup.consistency == Consistency.CRASH
        assert "guest agent" in backup.consistency_reason
    assert time.monotonic() - started < 15


def test_raw_disk_within_an_incremental_reads_its_changes(conn, make_domain) -> None:
    td = make_domain({"vda": ("qcow2", 16 * MiB), "vdb": ("raw", 4 * MiB)})
    with DomainBackup(conn, td.name, "snap-1") as backup:
        vdb_full = read_all(backup.disk("vdb"))
        backup.commit()
    td.write("vda", 0, 4096, 0x01)
    td.write("vdb", 1 * MiB, 4096, 0x02)
    with DomainBackup(conn, td.name, "snap-2", parent="snap-1") as backup:
        vda, vdb = backup.disk("vda"), backup.disk("vdb")
        assert vda.incremental and vda.changed_extents() == granular([(0, 4096)])
        # raw: no checkpoint bitmap, but QEMU's in-memory one (test_volume_bitmaps.py has the details)
        assert vdb.incremental and vdb.changed_extents() == granular([(1 * MiB, 4096)])
        changed = read_extents(vdb, vdb.size, vdb.changed_extents(), base=vdb_full)
        assert sha(changed) == td.sha256("vdb")


def test_full_of_an_overlay_disk_includes_its_backing_image(conn, make_domain) -> None:
    """Nova's instance disks are qcow2 overlays on a shared base image: a full backup holds both."""
    td = make_domain({"vda": ("qcow2", 16 * MiB)}, start=False)
    path = td.disks["vda"][0]
    base = os.path.join(td.workdir, "base.raw")
    subprocess.run(["qemu-img", "create", "-q", "-f", "raw", base, str(16 * MiB)], check=True)
    subprocess.run(
        ["qemu-io", "-f", "raw", "-c", "write -P 0x4b 1M 2M", base], check=True, capture_output=True
    )
    os.unlink(path)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "raw", path], check=True)
    td.model["vda"][1 * MiB : 3 * MiB] = b"\x4b" * (2 * MiB)
    td.dom.create()
    td.write("vda", 2 * MiB, 64 * 1024, 0x4C)
    with DomainBackup(conn, td.name, "snap-1") as backup:
        disk = backup.disk("vda")
        assert sum(n for _, n in disk.changed_extents()) <= 2 * MiB + 64 * 1024
        assert sha(read_extents(disk, disk.size, disk.changed_extents())) == td.sha256("vda")
        backup.commit()
    td.write("vda", 8 * MiB, 4096, 0x4D)
    with DomainBackup(conn, td.name, "snap-2", parent="snap-1") as backup:
        assert backup.disk("vda").changed_extents() == granular([(8 * MiB, 4096)])


ABANDON = """
import os, sys
from t4o.datamover.disks import DomainBackup, connect
backup = DomainBackup(connect(), sys.argv[1], "snap-2", parent="snap-1").start()
print("started", backup._workdir, flush=True)
os._exit(0)  # dies without ending the job, as a killed process would
"""


def test_backup_job_left_by_a_dead_process_is_ended(conn, make_domain) -> None:
    td = make_domain({"vda": ("qcow2", 16 * MiB)})
    with DomainBackup(conn, td.name, "snap-1") as backup:
        backup.commit()
    td.write("vda", 0, 4096, 0x01)
    out = subprocess.run([sys.executable, "-c", ABANDON, td.name], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("started")
    abandoned_dir = out.stdout.split()[1]
    assert os.path.isdir(abandoned_dir)
    assert td.dom.jobInfo()[0] != 0  # the job outlived its process
    td.write("vda", 1 * MiB, 4096, 0x02)
    with DomainBackup(conn, td.name, "snap-3", parent="snap-1") as backup:
        assert backup.disk("vda").changed_extents() == granular([(0, 4096), (1 * MiB, 4096)])
        assert sorted(backup.commit()) == ["snap-1", "snap-2"]
    assert [c.getName() for c in td.dom.listAllCheckpoints()] == ["snap-3"]
    assert not os.path.exists(abandoned_dir)  # its socket directory went with it


HOLD = """
import sys, time
from t4o.datamover.agent.operations import redefine_checkpoint
from t4o.datamover.disks import DomainBackup, connect
conn = connect()
redefine_checkpoint(conn.lookupByName(sys.argv[1]), "t4o-1", sys.stdin.read())
backup = DomainBackup(conn, sys.argv[1], "t4o-2", parent="t4o-1").start()
print("started", backup._workdir, flush=True)
time.sleep(600)  # an agent in the middle of a transfer, until the test kills it
"""


def test_agent_start_ends_what_a_killed_agent_left(conn, make_domain, libvirtd) -> None:
    """An agent killed (SIGKILL) during an incremental backup leaves its backup job (the disks' NBD
    export), the new checkpoint, the parent it redefined and the job's directory; the next agent process
    removes them when it starts, and leaves a live process's backup alone. The parent's bitmap stays:
    the next incremental from it sees every change."""
    td = make_domain({"vda": ("qcow2", 16 * MiB)})
    with DomainBackup(conn, td.name, "t4o-1") as backup:
        backup.commit()
    kept = forget_checkpoint(td.dom, "t4o-1")  # as a completed snapshot leaves the domain
    td.write("vda", 0, 4096, 0x01)
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, td.name], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(kept)
        child.stdin.close()
        line = child.stdout.readline()
        assert line.startswith("started"), line
        workdir = line.split()[1]

        def mine(notes: list[str]) -> list[str]:
            return [n for n in notes if td.name in n]

        assert mine(clear_abandoned(libvirtd, None)) == []  # its owner still runs
        assert td.dom.jobInfo()[0] != 0 and os.path.isdir(workdir)
    finally:
        child.kill()
        child.wait()
    assert td.dom.jobInfo()[0] != 0  # the job outlived its process
    notes = mine(clear_abandoned(libvirtd, None))
    assert notes == [
        f"domain {td.name}: ended a backup job left by an agent that died",
        f"domain {td.name}: deleted checkpoint t4o-2 of a backup that never completed",
        f"domain {td.name}: dropped the metadata of checkpoint t4o-1 (its bitmap stays for the next "
        "incremental)",
    ]
    assert td.dom.jobInfo()[0] == 0 and td.dom.listAllCheckpoints() == []
    assert not os.path.exists(workdir)
    td.write("vda", 1 * MiB, 4096, 0x02)
    redefine_checkpoint(td.dom, "t4o-1", kept)
    with DomainBackup(conn, td.name, "t4o-3", parent="t4o-1") as backup:
        assert backup.disk("vda").changed_extents() == granular([(0, 4096), (1 * MiB, 4096)])


class CancelledWhileMoving(Transfer):
    """A transfer cancelled once the backup has moved its first bytes (its job was cancelled)."""

    def add_bytes(self, n: int) -> None:
        self.cancel()
        super().add_bytes(n)


def test_a_cancelled_incremental_leaves_no_checkpoint_on_the_domain(conn, make_domain, libvirtd, tmp_path):
    """Nova cannot delete a domain with checkpoints: an incremental that does not complete forgets the
    parent it redefined, as a completed one does; the chain from that parent still holds."""
    td = make_domain({"vda": ("qcow2", 16 * MiB)})
    vault = str(tmp_path / "vault")
    open_repository(vault)
    spec = {
        "vault": {"url": vault},
        "domain": td.dom.UUIDString(),
        "workload_id": "w1",
        "disk_id_prefix": "vm1",
    }
    full = operations.backup(
        Transfer("t1", "backup"), {**spec, "snapshot_id": "s1", "checkpoint": "t4o-s1"}, libvirtd, 1, None
    )
    assert td.dom.listAllCheckpoints() == []
    td.write("vda", 0, 4096, 0x01)
    incremental = {
        **spec,
        "parent_checkpoint": "t4o-s1",
        "parent_checkpoint_xml": full["checkpoint_xml"],
        "parents": {"vda": full["disks"][0]["ref"]},
    }
    with pytest.raises(TransferCancelled):
        operations.backup(
            CancelledWhileMoving("t2", "backup"),
            {**incremental, "snapshot_id": "s2", "checkpoint": "t4o-s2"},
            libvirtd, 1, None,
        )  # fmt: skip
    assert td.dom.listAllCheckpoints() == []
    result = operations.backup(
        Transfer("t3", "backup"),
        {**incremental, "snapshot_id": "s3", "checkpoint": "t4o-s3"},
        libvirtd,
        1,
        None,
    )
    (disk,) = result["disks"]
    assert disk["incremental"] and disk["read_bytes"] <= 1 * MiB, disk  # the 4 KiB write, read by block
    assert td.dom.listAllCheckpoints() == []


def test_block_reads_in_order_are_served_by_read_ahead_connections(conn, make_domain) -> None:
    """The vault's way of reading (1 MiB blocks over the data extents, ascending) on a raw disk: the
    blocks come from extra NBD connections to the export and equal the disk."""
    td = make_domain({"vda": ("qcow2", 16 * MiB), "vdb": ("raw", 12 * MiB)})
    for i, at in enumerate((0, 2 * MiB + 4096, 5 * MiB, 6 * MiB, 11 * MiB)):
        td.write("vdb", at, 300 * 1024, 0x10 + i)
    with DomainBackup(conn, td.name, "snap-1") as backup:
        vdb = backup.disk("vdb")
        data = bytearray(vdb.size)
        for i in vdb._blocks_to_read(MiB):
            data[i * MiB : (i + 1) * MiB] = vdb.read(i * MiB, MiB)
        assert vdb._ahead is not None and vdb._ahead._clients  # the export took more than one client
        assert sha(bytes(data)) == td.sha256("vdb")
