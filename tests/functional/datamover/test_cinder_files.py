"""Detached volumes on a file-based Cinder backend, laid out as the NFS driver does (real qemu-img files):
a snapshot's data is read from its overlay's backing file, and a restore writes the active file."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from t4o.datamover.agent import operations
from t4o.datamover.agent.bandwidth import Bandwidth
from t4o.datamover.agent.transfers import Transfer
from t4o.datamover.disks import DiskError, FileDiskSource, cinder_files
from t4o.vault import open_repository

MiB = 1 << 20
pytestmark = pytest.mark.timeout(120)


def qemu_io(path: Path, fmt: str, command: str) -> None:
    subprocess.run(["qemu-io", "-f", fmt, "-c", command, str(path)], check=True, capture_output=True)


class Share:
    """A share mounted at ``<base>/<hash>``, holding one volume; snapshots as the NFS driver takes them of a
    detached volume (a qcow2 overlay on the active file becomes the new active file)."""

    def __init__(self, base: Path) -> None:
        self.dir = base / "0123abcd"
        self.dir.mkdir(parents=True)
        self.volume_id = str(uuid.uuid4())
        self.base_file = self.dir / f"volume-{self.volume_id}"
        with open(self.base_file, "wb") as f:
            f.truncate(64 * MiB)
        self.info: dict[str, str] = {}

    @property
    def active(self) -> Path:
        return self.dir / self.info.get("active", self.base_file.name)

    def snapshot(self) -> str:
        snap_id = str(uuid.uuid4())
        backing = self.active
        fmt = "raw" if backing == self.base_file else "qcow2"
        overlay = self.dir / f"{self.base_file.name}.{snap_id}"
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", "-b", backing.name, "-F", fmt, str(overlay)],
            check=True,
            cwd=self.dir,
        )
        self.info.update({"active": overlay.name, snap_id: overlay.name})
        (self.dir / f"{self.base_file.name}.info").write_text(json.dumps(self.info))
        return snap_id

    def write(self, offset: int, length: int, pattern: int) -> None:
        fmt = "raw" if self.active == self.base_file else "qcow2"
        qemu_io(self.active, fmt, f"write -P {pattern} {offset} {length}")

    def read(self) -> bytes:
        with FileDiskSource(str(self.active)) as src:
            return src.read(0, src.size)


def test_a_snapshot_is_read_from_its_overlays_backing_file_whatever_is_written_after(tmp_path: Path) -> None:
    share = Share(tmp_path / "mnt")
    share.write(0, 4 * MiB, 0x11)
    first = share.snapshot()
    share.write(MiB, MiB, 0x22)  # after the first snapshot: lands in its overlay
    second = share.snapshot()
    share.write(2 * MiB, MiB, 0x33)
    dirs = [str(tmp_path / "elsewhere"), str(tmp_path / "mnt")]
    img1 = cinder_files.snapshot_image(dirs, share.volume_id, first)
    assert (img1.path, img1.format) == (str(share.base_file), "raw")
    img2 = cinder_files.snapshot_image(dirs, share.volume_id, second)
    assert img2.path.endswith(f".{first}") and img2.format == "qcow2"
    with FileDiskSource(img1.path, img1.format) as src:
        assert src.read(MiB, 16) == b"\x11" * 16
    with FileDiskSource(img2.path, img2.format) as src:  # the chain under the second snapshot
        assert src.read(MiB, 16) == b"\x22" * 16 and src.read(2 * MiB, 16) == b"\x11" * 16
    active = cinder_files.active_image(dirs, share.volume_id)
    assert active.path.endswith(f".{second}") and active.format == "qcow2"


def test_missing_volume_and_unknown_snapshot_and_escaping_names_are_refused(tmp_path: Path) -> None:
    share = Share(tmp_path / "mnt")
    dirs = [str(tmp_path / "mnt")]
    with pytest.raises(DiskError, match="volume_dirs"):
        cinder_files.volume_dir(dirs, str(uuid.uuid4()))
    with pytest.raises(DiskError, match="not in volume"):
        cinder_files.snapshot_image(dirs, share.volume_id, str(uuid.uuid4()))
    snap = share.snapshot()
    share.info[snap] = "../../etc/passwd"
    (share.dir / f"{share.base_file.name}.info").write_text(json.dumps(share.info))
    with pytest.raises(DiskError, match="not a file of the share"):
        cinder_files.snapshot_image(dirs, share.volume_id, snap)


def test_agent_backs_up_a_detached_volume_from_its_snapshot_and_restores_it_into_a_new_volume(
    tmp_path: Path,
) -> None:
    share = Share(tmp_path / "mnt")
    share.write(8 * MiB, 3 * MiB, 0x44)
    snap = share.snapshot()
    share.write(8 * MiB, MiB, 0x55)  # after the snapshot: must not be in the backup
    expected = FileDiskSource(str(share.base_file), "raw")
    expected_bytes = expected.open().read(0, expected.size)
    expected.close()
    repo = open_repository(str(tmp_path / "vault"))
    transfer = Transfer("t1", "backup")
    spec = {
        "vault": {"url": str(tmp_path / "vault")},
        "snapshot_id": "s1",
        "workload_id": "w",
        "disk_id_prefix": "vm1",
        "volumes": [{"volume_id": share.volume_id, "snapshot_id": snap, "metadata": {"volume_type": "nfs"}}],
    }
    (disk,) = operations.backup_detached(transfer, repo, spec, [str(tmp_path / "mnt")], 2)
    assert disk["disk_id"] == f"vm1_volume-{share.volume_id}" and disk["attached"] is False
    assert disk["read_bytes"] == 3 * MiB and transfer.bytes_done == transfer.bytes_total == 3 * MiB
    assert repo.get_manifest(disk["ref"]).metadata["volume_id"] == share.volume_id

    # a new volume on the share (as Cinder creates it: a sparse raw file) is written from the vault
    new = Share(tmp_path / "mnt2")
    with open(new.base_file, "r+b") as f:
        f.write(os.urandom(MiB))  # old content that must go
    item = {"ref": disk["ref"], "volume_id": new.volume_id}
    out = operations.restore_detached(Transfer("t2", "restore"), repo, item, [str(tmp_path / "mnt2")])
    assert out["verified"] and out["restored_checksum"] == disk["checksum"]
    assert new.read() == expected_bytes


def test_the_agents_bandwidth_cap_paces_a_backup_and_a_restore(tmp_path: Path) -> None:
    share = Share(tmp_path / "mnt")
    share.write(0, 8 * MiB, 0x61)
    snap = share.snapshot()
    repo = open_repository(str(tmp_path / "vault"))
    spec = {
        "vault": {"url": str(tmp_path / "vault")}, "snapshot_id": "s1", "workload_id": "w",
        "disk_id_prefix": "vm1",
        "volumes": [{"volume_id": share.volume_id, "snapshot_id": snap, "metadata": {}}],
    }  # fmt: skip
    cap = Bandwidth(8 * MiB)  # 8 MiB of data at 8 MiB/s, a quarter second of it free (the burst)
    began = time.monotonic()
    (disk,) = operations.backup_detached(
        Transfer("t1", "backup"), repo, spec, [str(tmp_path / "mnt")], 2, cap
    )
    took = time.monotonic() - began
    assert 0.7 <= took < 10, took
    new = Share(tmp_path / "mnt2")
    item = {"ref": disk["ref"], "volume_id": new.volume_id}
    began = time.monotonic()
    out = operations.restore_detached(Transfer("t2", "restore"), repo, item, [str(tmp_path / "mnt2")], cap)
    took = time.monotonic() - began
    assert out["verified"] and 0.7 <= took < 10, took  # only the 8 MiB of data pay; zeros are free
