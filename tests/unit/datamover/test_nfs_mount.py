"""Mounting an nfs target's export (t4o.datamover.nfs_mount), with mount replaced by a script given as
``[backup_targets] nfs_mount_helper``: the module's own logic (when it mounts, the command, one mount for
concurrent callers, the timeout, and the message that says what to fix). The real mount command is run by
tests/functional/test_nfs_target_mount.py."""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg

from t4o.datamover import config as dm_config
from t4o.datamover import nfs_mount
from t4o.datamover.agent import operations
from t4o.vault import TargetUnavailable, register_opts
from t4o.workloads import targets
from t4o.workloads.flows.config import TARGETS_OPTS
from t4o.workloads.targets import Target

SHARE = "filer.example:/exports/t4o"
# Records its arguments, waits, says FAKE_STDERR, "mounts" (a marker is_mounted looks for) unless told
# to fail, and exits FAKE_RC.
FAKE_MOUNT = """#!/bin/sh
echo "$@" >> "$FAKE_LOG"
sleep "${FAKE_SLEEP:-0}"
[ -n "$FAKE_STDERR" ] && echo "$FAKE_STDERR" >&2
eval last=\\${$#}
[ "${FAKE_RC:-0}" = 0 ] && [ -z "$FAKE_NO_MOUNT" ] && touch "$last/.mounted"
exit "${FAKE_RC:-0}"
"""


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    script = tmp_path / "fake-mount"
    script.write_text(FAKE_MOUNT)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "calls"
    monkeypatch.setenv("FAKE_LOG", str(log))
    for name in ("FAKE_SLEEP", "FAKE_STDERR", "FAKE_RC", "FAKE_NO_MOUNT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(nfs_mount, "is_mounted", lambda p: os.path.exists(os.path.join(p, ".mounted")))
    conf = cfg.ConfigOpts()
    register_opts(conf)
    conf.register_opts(TARGETS_OPTS, group="backup_targets")
    dm_config.register_opts(conf)
    conf([], project="t4o-test", default_config_files=[])
    conf.set_override("nfs_mount_point_base", str(tmp_path / "mnt"), group="backup_targets")
    conf.set_override("nfs_mount_helper", str(script), group="backup_targets")
    conf.set_override("nfs_mount_timeout", 10, group="backup_targets")
    return {"conf": conf, "log": log, "where": str(tmp_path / "mnt" / "abc")}


def _calls(fake: dict[str, Any]) -> list[str]:
    log: Path = fake["log"]
    return log.read_text().splitlines() if log.exists() else []


def test_mounts_an_unmounted_export_once(fake: dict[str, Any]) -> None:
    conf = fake["conf"]
    nfs_mount.ensure_mounted(SHARE, fake["where"], conf)
    opts = conf.backup_targets.nfs_mount_options
    assert opts == "nolock,soft,timeo=180,retrans=3,lookupcache=none"
    assert _calls(fake) == [f"mount -t nfs -o {opts} {SHARE} {fake['where']}"]
    nfs_mount.ensure_mounted(SHARE, fake["where"], conf)  # mounted now: nothing to run
    assert len(_calls(fake)) == 1


def test_automount_off_says_what_to_mount_where(fake: dict[str, Any]) -> None:
    fake["conf"].set_override("nfs_automount", False, group="backup_targets")
    with pytest.raises(TargetUnavailable) as err:
        nfs_mount.ensure_mounted(SHARE, fake["where"], fake["conf"])
    assert f"mount -t nfs -o nolock,soft,timeo=180,retrans=3,lookupcache=none {SHARE} {fake['where']}" in str(
        err.value
    )
    assert "nfs_automount = true" in str(err.value) and _calls(fake) == []


@pytest.mark.parametrize(
    ("said", "fix"),
    [
        (
            "mount: /x: bad option; for several filesystems (e.g. nfs, cifs) you might need a "
            "/sbin/mount.<type> helper program.",
            "nfs-common",
        ),
        ("mount.nfs: No such device", "modprobe nfs"),
        ("mount.nfs: Connection refused", "firewall"),
        ("mount.nfs: Connection timed out", "firewall"),
        ("mount.nfs: Failed to resolve server filer.example: Name or service not known", "server's name"),
        ("mount.nfs: access denied by server while mounting filer.example:/exports/t4o", "exportfs -ra"),
        (
            "mount.nfs: mounting filer.example:/exports/t4o failed, reason given by server: No such file or "
            "directory",
            "showmount -e",
        ),
        ("mount.nfs: Operation not permitted", "CAP_SYS_ADMIN"),
        ('mount: only root can use "--types" option', "CAP_SYS_ADMIN"),
        ("sudo: a password is required", "sudoers"),
        ("mount.nfs: Protocol not supported", "vers="),
    ],
)
def test_a_failed_mount_says_what_to_fix(
    fake: dict[str, Any], monkeypatch: pytest.MonkeyPatch, said: str, fix: str
) -> None:
    monkeypatch.setenv("FAKE_RC", "32")
    monkeypatch.setenv("FAKE_STDERR", said)
    with pytest.raises(TargetUnavailable) as err:
        nfs_mount.ensure_mounted(SHARE, fake["where"], fake["conf"])
    msg = str(err.value)
    assert f"cannot mount the NFS export {SHARE} at {fake['where']}" in msg
    assert "exit 32" in msg and " ".join(said.split()) in msg and fix in msg


def test_a_hung_mount_is_given_up_in_bounded_time(
    fake: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake["conf"].set_override("nfs_mount_timeout", 1, group="backup_targets")
    monkeypatch.setenv("FAKE_SLEEP", "30")
    started = time.monotonic()
    with pytest.raises(TargetUnavailable) as err:
        nfs_mount.ensure_mounted(SHARE, fake["where"], fake["conf"])
    assert time.monotonic() - started < 5  # the script and its sleep are killed, not waited for
    assert "did not finish within 1 s" in str(err.value) and "nfs_mount_timeout" in str(err.value)


def test_concurrent_callers_mount_once(fake: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SLEEP", "0.5")
    errors: list[BaseException] = []

    def one() -> None:
        try:
            nfs_mount.ensure_mounted(SHARE, fake["where"], fake["conf"])
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(_calls(fake)) == 1
    assert os.path.exists(os.path.join(os.path.dirname(fake["where"]), ".abc.lock"))


def test_success_without_a_mount_point_is_an_error(
    fake: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NO_MOUNT", "1")
    with pytest.raises(TargetUnavailable, match=r"said it succeeded but .* is not a mount point"):
        nfs_mount.ensure_mounted(SHARE, fake["where"], fake["conf"])


@pytest.mark.parametrize("share", ["-oexec:/x", "filer.example", "filer.example:relative", ":/x"])
def test_a_malformed_share_is_refused(fake: dict[str, Any], share: str) -> None:
    with pytest.raises(TargetUnavailable, match="must be server:/export"):
        nfs_mount.ensure_mounted(share, fake["where"], fake["conf"])
    assert _calls(fake) == []


def test_an_ipv6_server_is_accepted(fake: dict[str, Any]) -> None:
    nfs_mount.ensure_mounted("[fd00::1]:/exports/t4o", fake["where"], fake["conf"])
    assert _calls(fake)[0].endswith(f" [fd00::1]:/exports/t4o {fake['where']}")


def test_a_missing_mount_command_says_so(fake: dict[str, Any], tmp_path: Path) -> None:
    fake["conf"].set_override("nfs_mount_helper", str(tmp_path / "nowhere"), group="backup_targets")
    with pytest.raises(TargetUnavailable, match=r"cannot run .*nowhere: No such file or directory"):
        nfs_mount.ensure_mounted(SHARE, fake["where"], fake["conf"])


def test_an_uncreatable_mount_point_says_so(fake: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(TargetUnavailable, match="cannot prepare the mount point"):
        nfs_mount.ensure_mounted(SHARE, str(tmp_path / "file" / "abc"), fake["conf"])


def test_the_workers_mount_an_nfs_target_before_opening_it(
    fake: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = fake["conf"]
    target = Target("t-1", "share", "nfs", "nfs://filer.example/exports/t4o")
    spec = targets.spec(target, conf)
    assert spec["nfs_share"] == SHARE and spec["require_mount"] is True
    assert spec["url"] == targets.nfs_mount_point(target.url, conf)
    monkeypatch.setenv("FAKE_RC", "32")
    monkeypatch.setenv("FAKE_STDERR", "mount.nfs: Connection refused")
    with pytest.raises(TargetUnavailable) as err:
        targets.open_target(target, conf=conf)
    assert str(err.value).startswith("the backup target share is unavailable: cannot mount the NFS export")
    assert _calls(fake) == [f"mount -t nfs -o {conf.backup_targets.nfs_mount_options} {SHARE} {spec['url']}"]


def test_the_agent_mounts_the_share_its_spec_names(
    fake: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RC", "32")
    monkeypatch.setenv("FAKE_STDERR", "mount.nfs: No such device")
    spec = {"vault": {"url": fake["where"], "password": None, "require_mount": True, "nfs_share": SHARE}}
    with pytest.raises(TargetUnavailable, match="modprobe nfs"):
        operations.open_vault(spec, fake["conf"])
    assert _calls(fake) == [
        f"mount -t nfs -o {fake['conf'].backup_targets.nfs_mount_options} {SHARE} {fake['where']}"
    ]


def test_is_mounted_reads_the_mount_table(tmp_path: Path) -> None:
    assert (
        nfs_mount.is_mounted("/")
        and nfs_mount.is_mounted("/proc/")
        and not nfs_mount.is_mounted(str(tmp_path))
    )
    assert nfs_mount._unescape(r"/var/lib/t4o/a\040b\134c") == "/var/lib/t4o/a b\\c"
