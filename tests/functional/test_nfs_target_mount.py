"""A workload on an nfs target whose export cannot be mounted, with the real mount command: the workers
and the agent try to mount ``nfs://127.0.0.1/<export>`` themselves, and fail in bounded time with mount's
own words and what to fix, without writing anything at the empty mount point (a vault created there
would fill the local disk with backups no other host sees).

The export is made unreachable by a port nothing listens on. Where the kernel has an NFS client mount
says the connection is refused; where it has none, that there is no such device; without the right to
mount, that only root may: each has its fix, and none is the generic advice. Then a workload whose
export the services mount (root needed) is backed up into the export and restored from it."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from t4o.common.context import RequestContext
from t4o.datamover import nfs_mount
from t4o.datamover.agent import operations
from t4o.db import api as db
from t4o.vault import TargetUnavailable
from t4o.workloads import backup_targets, targets

SERIAL = "f82ce76f-17fe-438b-aa37-7a023058e50d"
TIMEOUT = 20
KNOWN_FIXES = [fix for _, fix in nfs_mount._FIXES]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def on_nfs(t4o_conf: Any, tmp_path: Path) -> dict[str, Any]:
    targets.configured_target(t4o_conf)  # registers [backup_target] and [backup_targets]
    t4o_conf.set_override("create_if_missing", True, group="backup_target")
    t4o_conf.set_override("nfs_mount_point_base", str(tmp_path / "mnt"), group="backup_targets")
    port = closed_port()
    t4o_conf.set_override(
        "nfs_mount_options",
        f"vers=3,tcp,port={port},mountport={port},nolock,soft,timeo=10,retrans=1,retry=0",
        group="backup_targets",
    )
    t4o_conf.set_override("nfs_mount_timeout", TIMEOUT, group="backup_targets")
    export = tmp_path / "export"
    export.mkdir()
    ctx = RequestContext(roles=["admin"], project_id="p1")
    target = backup_targets.create_target(
        ctx, {"name": "filer", "type": "nfs", "url": f"nfs://127.0.0.1{export}"}
    )
    values = {
        "project_id": "p1",
        "user_id": "u1",
        "name": "on-nfs",
        "workload_type_id": SERIAL,
        "status": "available",
        "backup_target_id": backup_targets.choose_for_new_workload(target["id"]),
    }
    workload = db.workload_create(values, [{"vm_id": "vm-1", "vm_name": "vm"}])
    return {"workload": workload, "export": export, "share": f"127.0.0.1:{export}", "target": target}


def assert_says_what_to_fix(message: str, share: str, where: str) -> None:
    assert f"cannot mount the NFS export {share} at {where}" in message, message
    assert "To fix: " in message, message
    assert any(fix in message for fix in KNOWN_FIXES), message


def test_the_workers_mount_fails_in_bounded_time_naming_the_fix(
    on_nfs: dict[str, Any], t4o_conf: Any
) -> None:
    spec = targets.spec_for_workload(on_nfs["workload"].id)
    where = spec["url"]
    assert spec["nfs_share"] == on_nfs["share"] and where.startswith(
        t4o_conf.backup_targets.nfs_mount_point_base
    )
    started = time.monotonic()
    with pytest.raises(TargetUnavailable) as err:
        targets.open_for_workload(on_nfs["workload"], create=True)  # as the snapshot workflow opens it
    assert time.monotonic() - started < TIMEOUT + 10
    assert str(err.value).startswith("the backup target filer is unavailable: ")
    assert_says_what_to_fix(str(err.value), on_nfs["share"], where)
    # The mount point was made, nothing is mounted there, and no vault was created on the local disk.
    assert os.path.isdir(where) and not nfs_mount.is_mounted(where) and os.listdir(where) == []
    assert list(on_nfs["export"].iterdir()) == []


def test_the_agent_mount_fails_the_same_way(on_nfs: dict[str, Any], t4o_conf: Any) -> None:
    spec = {"vault": targets.spec_for_workload(on_nfs["workload"].id)}
    started = time.monotonic()
    with pytest.raises(TargetUnavailable) as err:
        operations.open_vault(spec, t4o_conf)
    assert time.monotonic() - started < TIMEOUT + 10
    assert_says_what_to_fix(str(err.value), on_nfs["share"], spec["vault"]["url"])
    assert not nfs_mount.is_mounted(spec["vault"]["url"]) and os.listdir(spec["vault"]["url"]) == []


# This kernel may have no NFS client (none in the test machines'), so the NFS protocol is replaced by a
# bind mount of the export directory, through [backup_targets] nfs_mount_helper: the rest is real (the
# mount syscall, the mount point check, the vault writing through the mount). The export is a tmpfs of its
# own, as a server's disk: the vault refuses an nfs target's directory on the root filesystem.
BIND_AS_NFS = """#!/bin/sh
echo "$@" >> "$CALLS"
[ "$1 $2 $3 $4" = "mount -t nfs -o" ] || exit 64
exec mount --bind "${6#*:}" "$7"
"""
MIB = 1024 * 1024


def test_a_backup_lands_in_the_export_mounted_by_the_services(
    on_nfs: dict[str, Any], t4o_conf: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    helper = tmp_path / "bind-as-nfs"
    helper.write_text(BIND_AS_NFS)
    helper.chmod(0o755)
    calls = tmp_path / "calls"
    monkeypatch.setenv("CALLS", str(calls))
    t4o_conf.set_override("nfs_mount_helper", str(helper), group="backup_targets")
    wl = on_nfs["workload"]
    where = targets.spec_for_workload(wl.id)["url"]
    disk = tmp_path / "disk.raw"
    model = os.urandom(3 * MIB) + b"\0" * MIB  # what the test wrote, compared after the restore
    disk.write_bytes(model)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "t4o-export", str(on_nfs["export"])], check=True
    )
    try:
        repo = targets.open_for_workload(wl, create=True)  # as the snapshot workflow opens it
        try:
            repo.backup_disk(disk, "vda", snapshot_id="snap-1", workload_id=wl.id)
            repo.put_snapshot_metadata("snap-1", {"name": "first"}, workload_id=wl.id)
        finally:
            repo.backend.close()
        assert nfs_mount.is_mounted(where)
        # The vault is in the export, not on the local disk under the mount point.
        written = [p for p in on_nfs["export"].rglob("*") if p.is_file()]
        assert sum(p.stat().st_size for p in written) > MIB

        repo = operations.open_vault({"vault": targets.spec_for_workload(wl.id)}, t4o_conf)  # as an agent
        try:
            assert [s["snapshot_id"] for s in repo.list_snapshots(wl.id)] == ["snap-1"]
            out = tmp_path / "restored.raw"
            repo.restore_disk("snap-1", out)
        finally:
            repo.backend.close()
        assert out.read_bytes() == model
        opts = t4o_conf.backup_targets.nfs_mount_options
        assert calls.read_text().splitlines() == [f"mount -t nfs -o {opts} {on_nfs['share']} {where}"]
    finally:
        for path in (where, str(on_nfs["export"])):
            if nfs_mount.is_mounted(path):
                subprocess.run(["umount", path], check=True)
