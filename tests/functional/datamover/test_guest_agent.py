"""fsfreeze and guest hooks for real: a Linux guest (Debian kernel, busybox, qemu-ga) whose agent answers."""

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

from t4o.datamover.agent import operations
from t4o.datamover.agent.transfers import Transfer
from t4o.datamover.disks import Consistency, DomainBackup
from t4o.datamover.disks.guest_hooks import Hook, HookFailed, HookSpec, run_in_guest
from t4o.vault import open_repository
from t4o.workloads.flows import guest_hooks
from tests.fixtures import guest_image
from tests.fixtures.control_plane import missing_server

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


def hooks(pre: str | None, post: str | None, on_failure: str = "crash", timeout: int = 20) -> HookSpec:
    """A hook spec as the snapshot workflow sends it (commands parsed from metadata the same way)."""
    raw: dict = {"timeout": timeout, "on_failure": on_failure, "output_limit": 64}
    for phase, text in (("pre_freeze", pre), ("post_thaw", post)):
        if text:
            raw[phase] = {"command": text, "argv": guest_hooks.parse_command(text)}
    spec = HookSpec.from_spec(raw)
    assert spec is not None
    return spec


def guest_exec(dom: libvirt.virDomain, text: str) -> str:
    """Run a command in the guest now, for the test's own checks; its stdout."""
    result = run_in_guest(dom, "check", Hook(text, tuple(guest_hooks.parse_command(text))), 20, 4096)
    assert result.status == "ok", result
    return result.stdout


def test_hooks_run_in_the_guest_around_the_freeze(conn, guest, tmp_path) -> None:
    spec = hooks(
        "sh -c 'echo pre > /mnt/hook; cat /mnt/hook; seq 1 100 >&2'",
        # writes to the filesystem that was frozen: it would hang (and time out) unless thawed
        "sh -c 'cat /mnt/hook; echo post >> /mnt/hook'",
    )
    with DomainBackup(conn, guest.name(), "snap-hooks", hooks=spec) as backup:
        assert backup.consistency == Consistency.FS_FROZEN
        pre, post = backup.hook_results
        assert (pre.phase, pre.status, pre.exit_code, pre.stdout) == ("pre_freeze", "ok", 0, "pre\n")
        # stderr cut to its last 64 bytes
        assert pre.stderr_truncated and len(pre.stderr) == 64 and pre.stderr.endswith("99\n100\n")
        assert (post.phase, post.status, post.stdout) == ("post_thaw", "ok", "pre\n")
        assert not post.stdout_truncated and post.duration_seconds < 20
        # the point was taken between the two: the disk holds what the pre hook wrote, not the post's
        image = tmp_path / "hooked.raw"
        assert fsck(backup.disk("vda"), image).returncode == 0
        shown = subprocess.run(
            ["debugfs", "-R", "cat /hook", str(image)], capture_output=True, text=True, check=True
        )
        assert shown.stdout == "pre\n"
    assert guest_exec(guest, "cat /mnt/hook") == "pre\npost\n"


def test_a_failing_pre_hook_means_no_freeze_or_a_failed_backup(conn, guest) -> None:
    failing = "sh -c 'echo cannot flush >&2; exit 3'"
    post = "sh -c 'echo undone >> /mnt/post; cat /mnt/post'"
    with DomainBackup(conn, guest.name(), "snap-crash", hooks=hooks(failing, post)) as backup:
        assert backup.consistency == Consistency.CRASH
        assert backup.consistency_reason == (
            "pre-freeze hook failed (exit code 3: cannot flush): the guest was not frozen"
        )
        pre, after = backup.hook_results
        assert (pre.status, pre.exit_code, pre.stderr) == ("failed", 3, "cannot flush\n")
        assert (after.status, after.stdout) == ("ok", "undone\n")  # it runs all the same
        backup.commit()

    # on_failure "fail": no checkpoint, no backup; the post hook still ran
    with pytest.raises(HookFailed, match=r"pre-freeze hook failed \(exit code 3: cannot flush\); the sn"):
        DomainBackup(conn, guest.name(), "snap-fail", hooks=hooks(failing, post, "fail")).start()
    assert [cp.getName() for cp in guest.listAllCheckpoints(0)] == ["snap-crash"]
    assert guest_exec(guest, "cat /mnt/post") == "undone\nundone\n"
    assert '"thawed"' in agent(guest, "guest-fsfreeze-status")

    # a pre hook that does not end in time counts as failed; the freeze does not wait for it
    slow = hooks("sleep 30", None, timeout=2)
    with DomainBackup(conn, guest.name(), "snap-slow", parent="snap-crash", hooks=slow) as backup:
        (pre,) = backup.hook_results
        assert pre.status == "timed-out" and 2 <= pre.duration_seconds < 5
        assert backup.consistency == Consistency.CRASH
        assert "did not end within 2 s" in backup.consistency_reason


def test_the_agent_runs_the_hooks_the_workflow_asks_for(libvirtd, guest, tmp_path) -> None:
    """The backup spec's guest_hooks as the snapshot workflow builds them from metadata, through the
    agent's backup: the result carries what the hooks did."""
    repo = open_repository(str(tmp_path / "vault"))
    hooks_spec, notes = guest_hooks.hook_spec(
        {"t4o_pre_freeze": "sh -c 'echo pre > /mnt/x; cat /mnt/x'", "t4o_post_thaw": "false"},
        {"t4o_post_thaw": "sh -c 'echo post >> /mnt/x; cat /mnt/x'"},
        default_timeout=30,
        output_limit=4096,
    )
    assert notes == []
    spec = {
        "vault": {"url": str(tmp_path / "vault")},
        "domain": guest.UUIDString(),
        "snapshot_id": "s1",
        "workload_id": "w1",
        "checkpoint": "t4o-s1",
        "disk_id_prefix": "vm1",
        "guest_hooks": hooks_spec,
    }
    result = operations.backup(Transfer("t1", "backup"), spec, libvirtd, max_disks=1, scratch=None)
    assert result["consistency"] == "fs-frozen"
    pre, post = result["guest_hooks"]
    assert (pre["phase"], pre["status"], pre["stdout"]) == ("pre_freeze", "ok", "pre\n")
    assert (post["phase"], post["status"], post["stdout"]) == ("post_thaw", "ok", "pre\npost\n")
    (disk,) = result["disks"]
    assert repo.get_manifest(disk["ref"]).size == 64 * 1024 * 1024
