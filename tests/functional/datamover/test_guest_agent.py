"""fsfreeze for real: a Linux guest (Debian kernel, busybox, qemu-ga) whose agent answers."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator

import libvirt
import libvirt_qemu
import pytest

from t4o.datamover.disks import Consistency, DomainBackup
from tests.fixtures.control_plane import missing_server
from tests.functional.datamover import guest_image

pytestmark = pytest.mark.timeout(300)
BOOT_TIMEOUT = 180


def agent(dom: libvirt.virDomain, command: str) -> str:
    return libvirt_qemu.qemuAgentCommand(dom, f'{{"execute":"{command}"}}', 5, 0)


@pytest.fixture
def guest(conn: libvirt.virConnect) -> Iterator[libvirt.virDomain]:
    absent = guest_image.missing()
    if absent:
        missing_server(f"the test guest needs Debian packages {', '.join(absent)} (run scripts/bootstrap)")
    workdir = tempfile.mkdtemp(prefix="t4o-guest-")
    os.chmod(workdir, 0o755)  # QEMU's user reads the kernel, initramfs and disk
    kernel, initrd = guest_image.build(workdir)
    disk = os.path.join(workdir, "vda.qcow2")
    guest_image.ext4_qcow2(disk, 64 * 1024 * 1024)
    dom = conn.defineXML(guest_image.domain_xml(f"t4o-guest-{uuid.uuid4().hex[:8]}", kernel, initrd, disk))
    try:
        dom.create()
        deadline = time.monotonic() + BOOT_TIMEOUT
        while True:
            try:
                agent(dom, "guest-ping")
                break
            except libvirt.libvirtError as exc:
                if time.monotonic() > deadline:
                    pytest.fail(f"the test guest's agent did not answer within {BOOT_TIMEOUT}s: {exc}")
                time.sleep(1)
        yield dom
    finally:
        if dom.isActive():
            dom.destroy()
        dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA)
        shutil.rmtree(workdir, ignore_errors=True)


def fsck(disk, path) -> subprocess.CompletedProcess[str]:
    with open(path, "wb") as f:
        f.truncate(disk.size)
        for off, length in disk.data_extents():
            f.seek(off)
            f.write(disk.read(off, length))
    return subprocess.run(["e2fsck", "-fn", str(path)], capture_output=True, text=True)


def test_answering_agent_freezes_then_thaws(conn, guest, tmp_path) -> None:
    with DomainBackup(conn, guest.name(), "snap-1") as backup:
        assert backup.consistency == Consistency.FS_FROZEN
        assert backup.consistency_reason == ""
        # thawed as soon as the point is taken; the backup reads the frozen view afterwards
        assert '"thawed"' in agent(guest, "guest-fsfreeze-status")
        disk = backup.disk("vda")
        assert disk.read(1024 + 56, 2) == b"\x53\xef"  # the ext4 superblock magic
        frozen = fsck(disk, tmp_path / "frozen.raw")
        backup.commit()
    with DomainBackup(conn, guest.name(), "snap-2", parent="snap-1", quiesce=False) as backup:
        assert backup.consistency == Consistency.CRASH
        assert backup.consistency_reason == "quiesce not requested"
        unfrozen = fsck(backup.disk("vda"), tmp_path / "unfrozen.raw")
    # a frozen ext4 has its journal flushed: clean as it stands; the mounted one needs journal recovery
    assert frozen.returncode == 0 and "journal recovery" not in frozen.stdout, frozen.stdout
    assert "skipping journal recovery" in unfrozen.stdout, unfrozen.stdout
