"""Mounting the NFS export of a backup target of type nfs, on a workloads worker or a datamover host.

``nfs://server/export`` is used at its mount point under ``[backup_targets] nfs_mount_point_base``. When
it is not mounted there, the service mounts it (``[backup_targets] nfs_automount``) with ``mount -t nfs``,
once per host: concurrent jobs and agents take a lock file beside the mount point, and the one that comes
second finds it mounted. A failed mount raises TargetUnavailable with mount's own words and what to fix.
Exports are never unmounted here: the next job needs them again.
"""

from __future__ import annotations

import fcntl
import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Sequence
from typing import Any

from oslo_config import cfg

from t4o.common.log import get_logger
from t4o.datamover import config as dm_config
from t4o.vault import TargetUnavailable

LOG = get_logger(__name__)

# Seconds left, after killing a mount that timed out, for it to go: a mount stuck in the kernel may
# not die, and the job must not wait for it.
_REAP_SECONDS = 5.0
_LOCK_POLL = 0.2

_UNREACHABLE = (
    "the NFS server does not answer from this host: check the server's name, that its NFS service runs, "
    "and that a firewall lets this host reach its ports (2049; and 111 for NFSv3)"
)
# (words in mount's output, what to fix): the first match says what to fix.
_FIXES: Sequence[tuple[tuple[str, ...], str]] = (
    (
        ("need a /sbin/mount.", "mount.nfs: not found", "unknown filesystem type 'nfs'"),
        "install the NFS client on this host (Debian/Ubuntu: nfs-common; RHEL: nfs-utils)",
    ),
    (
        ("no such device",),
        "this host's kernel has no NFS client: load it (modprobe nfs), or run the service on a host whose "
        "kernel has one",
    ),
    (
        ("a password is required", "sudo:"),
        "let the service run mount through [backup_targets] nfs_mount_helper without a password (a "
        "sudoers entry for mount)",
    ),
    (
        (
            "only root",
            "must be superuser",
            "not installed setuid",
            "operation not permitted",
            "permission denied (are you root",
        ),
        "the service may not mount: run it as root or with CAP_SYS_ADMIN, or set [backup_targets] "
        "nfs_mount_helper (e.g. 'sudo -n' with a sudoers entry for mount), or mount the export yourself "
        "and set [backup_targets] nfs_automount = false",
    ),
    (
        ("access denied by server", "permission denied"),
        "the server does not export it to this host: add this host to the export's clients on the server "
        "(/etc/exports, with rw and no_root_squash) and run 'exportfs -ra' there",
    ),
    (
        ("no such file or directory", "does not exist", "not exported"),
        "the server has no such export: check the path in the target's url ('showmount -e SERVER' lists "
        "the exports)",
    ),
    (
        (
            "connection refused",
            "no route to host",
            "network is unreachable",
            "timed out",
            "failed to resolve",
            "name or service not known",
            "unable to contact",
            "portmap",
            "rpcbind",
        ),
        _UNREACHABLE,
    ),
    (
        ("protocol not supported", "requested nfs version"),
        "the server does not speak the NFS version asked for: change vers= in [backup_targets] "
        "nfs_mount_options",
    ),
)


def is_mounted(mount_point: str) -> bool:
    """Whether a filesystem is mounted at ``mount_point``, read from the mount table: no stat of a share
    that may hang, and a bind mount counts (os.path.ismount misses one within the same filesystem)."""
    path = os.path.abspath(mount_point)
    # The parent resolved (symlinks, as the table has them), not the mount point: a hung share is not stat'ed.
    where = os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as table:
            return any(_unescape(line.split(" ", 5)[4]) == where for line in table if line.count(" ") >= 5)
    except OSError:  # no /proc
        return os.path.ismount(mount_point)


def _unescape(field: str) -> str:
    # The kernel writes space, tab, newline and backslash in paths as octal escapes.
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def ensure_mounted(share: str, mount_point: str, conf: cfg.ConfigOpts = cfg.CONF) -> None:
    """Make ``share`` (``server:/export``) mounted at ``mount_point``, or raise TargetUnavailable."""
    dm_config.register_opts(conf)
    if is_mounted(mount_point):
        return
    opts = conf[dm_config.NFS_GROUP]
    manual = f"mount -t nfs -o {opts.nfs_mount_options} {share} {mount_point}"
    if not opts.nfs_automount:
        raise TargetUnavailable(
            f"the NFS export {share} is not mounted at {mount_point}; mount it there on every workloads "
            f"and datamover host ({manual}), or set [backup_targets] nfs_automount = true"
        )
    _check_share(share)
    parent = os.path.dirname(os.path.abspath(mount_point))
    try:
        os.makedirs(mount_point, mode=0o755, exist_ok=True)
        lock_fd = os.open(
            os.path.join(parent, f".{os.path.basename(mount_point)}.lock"), os.O_RDWR | os.O_CREAT, 0o600
        )
    except OSError as exc:
        raise TargetUnavailable(
            f"cannot prepare the mount point {mount_point} of the NFS export {share}: "
            f"{exc.strerror or exc}; the service must be able to create it (or mount it yourself: {manual})"
        ) from None
    try:
        _lock(lock_fd, opts.nfs_mount_timeout + _REAP_SECONDS, share, mount_point)
        if is_mounted(mount_point):  # another job or agent of this host mounted it meanwhile
            return
        _mount(share, mount_point, opts, manual)
    finally:
        os.close(lock_fd)  # releases the lock


def _check_share(share: str) -> None:
    # mount gets it as one argument without a shell; an option-like or malformed share is refused.
    cut = share.find(":/")  # the first one: an IPv6 server is [addr]:/export
    if cut < 1 or share.startswith("-"):
        raise TargetUnavailable(f"bad NFS export {share!r}: it must be server:/export")


def _lock(fd: int, timeout: float, share: str, mount_point: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise TargetUnavailable(
                    f"the NFS export {share} is being mounted at {mount_point} by another process of this "
                    f"host for more than {timeout:g} s; is a mount hung? (see 'ps -ef | grep mount')"
                ) from None
            time.sleep(_LOCK_POLL)


def _mount(share: str, mount_point: str, opts: Any, manual: str) -> None:
    argv = [*shlex.split(opts.nfs_mount_helper or ""), "mount", "-t", "nfs"]
    if opts.nfs_mount_options:
        argv += ["-o", opts.nfs_mount_options]
    argv += [share, mount_point]
    timeout = float(opts.nfs_mount_timeout)
    LOG.info("mounting the NFS export %s at %s: %s", share, mount_point, shlex.join(argv))
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except OSError as exc:
        raise TargetUnavailable(
            f"cannot mount the NFS export {share} at {mount_point}: cannot run {argv[0]}: "
            f"{exc.strerror or exc} (install it, or fix [backup_targets] nfs_mount_helper)"
        ) from None
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:  # mount and the mount.nfs it started: its own session, so its own process group
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            proc.kill()
        try:
            proc.communicate(timeout=_REAP_SECONDS)
        except subprocess.TimeoutExpired:
            LOG.warning("mount of %s at %s (pid %d) does not end after kill", share, mount_point, proc.pid)
        raise TargetUnavailable(
            f"cannot mount the NFS export {share} at {mount_point}: mount did not finish within "
            f"{timeout:g} s ([backup_targets] nfs_mount_timeout). To fix: {_UNREACHABLE}"
        ) from None
    said = " ".join((err or out or "").split())
    if proc.returncode != 0:
        raise TargetUnavailable(
            f"cannot mount the NFS export {share} at {mount_point}: mount failed (exit {proc.returncode}): "
            f"{said or 'no message'}. To fix: {fix_for(said)}. Command: {shlex.join(argv)}"
        )
    if not is_mounted(mount_point):
        raise TargetUnavailable(
            f"cannot mount the NFS export {share} at {mount_point}: mount said it succeeded but "
            f"{mount_point} is not a mount point ({said or 'no message'}); mount it yourself ({manual}) and "
            "set [backup_targets] nfs_automount = false"
        )
    LOG.info("mounted the NFS export %s at %s in %.1f s", share, mount_point, time.monotonic() - started)


def fix_for(message: str) -> str:
    """What to fix, from mount's message."""
    low = message.lower()
    for words, fix in _FIXES:
        if any(w in low for w in words):
            return fix
    return (
        "check that this host can reach the NFS server and that the server exports it to this host; "
        "try the command by hand"
    )
