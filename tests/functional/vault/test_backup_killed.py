"""A backup from a source object (as the datamover's NBD disks are) killed (SIGKILL) mid-disk: the vault
holds no partial disk, gc removes what the dead process stored and its lease, and the next backup of the
snapshot's disk works."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from t4o.vault import PosixBackend, Repository, backup_source, open_repository
from t4o.vault.gc import collect

MiB = 1 << 20

CHILD = textwrap.dedent(
    """
    import os, sys, time
    from t4o.vault import backup_source, open_repository

    class Slow:
        path, format, size = "slow:vda", "raw", 32 << 20
        def read(self, offset, length):
            time.sleep(0.05)  # a disk that takes seconds to read
            return os.urandom(length)  # incompressible: with 1 MiB packs, a pack per block

    repo = open_repository(sys.argv[1], create=False)
    backup_source(repo, Slow(), "vm_vda", snapshot_id="s1", workload_id="w")
    """
)


def test_killed_backup_leaves_what_gc_removes(tmp_path: Path) -> None:
    url = str(tmp_path / "vault")
    Repository.init(PosixBackend(url), pack_size=MiB)
    repo = open_repository(url)
    child = subprocess.Popen([sys.executable, "-c", CHILD, url], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while len(list(repo.backend.list("data/"))) < 4:
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            assert time.monotonic() < deadline, "the backup stored no packs"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
        if child.stderr:
            child.stderr.close()
    assert repo.list_disks("s1") == []  # the disk was never committed: the snapshot does not exist
    assert list(repo.backend.list("locks/backup-"))  # the dead process's lease is still there
    stored = len(list(repo.backend.list("data/")))
    assert stored >= 4 and not list(repo.backend.list("index/"))  # packs written, none indexed yet

    # A sweep while the lease is live keeps the dead backup's packs (it might still commit) ...
    assert collect(repo, grace=0).packs_deleted == 0
    # ... and once the lease is stale, gc removes it and every pack nobody indexed.
    time.sleep(1.2)
    report = collect(repo, grace=0, stale_after=1.0)
    assert report.swept and report.packs_deleted >= stored and not list(repo.backend.list("data/"))
    assert list(repo.backend.list("locks/backup-")) == []
    assert repo.verify(read_data=True).ok

    class Disk:
        path, format, size = "mem:vda", "raw", 4 * MiB

        def read(self, offset: int, length: int) -> bytes:
            return bytes([(offset >> 20) + 1]) * length

    m = backup_source(repo, Disk(), "vm_vda", snapshot_id="s2", workload_id="w")
    assert repo.list_disks("s2") == ["vm_vda"] and m.stats["new_chunks"] == 4
    assert repo.verify(read_data=True).ok
