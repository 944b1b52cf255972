"""The backup targets' capacity, as administrators see it beside the storage usage.

One entry per target: the configured ``[backup_target]`` and each target defined through the API. A
directory target (posix, or nfs at its mount point) reports its filesystem's total, free and used bytes
(``statvfs``, read on the API host, which mounts the same shares as the workers). An S3 bucket has no
fixed capacity: its figures are null with the reason. The bytes the snapshots stored come from the
database, summed as the Storage quota sums them and grouped by the workload's target, so the targets
add up to the projects' usage.

``statvfs`` on a hard-mounted NFS share whose server is gone blocks in the kernel. The probe runs in a
helper thread the request waits for at most ``PROBE_TIMEOUT`` seconds; while a probe of a path is under
way a second request waits for that one instead of starting its own, so a dead share costs one stuck
thread, not one per request. The targets are probed side by side (up to ``MAX_PROBES`` at once), so a
few hung shares cost a request ``PROBE_TIMEOUT``, not that much each.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from oslo_config import cfg

from t4o.common.config import CONF
from t4o.db import backup_target_api as targets_db
from t4o.db import policy_api
from t4o.vault import mount_point_of, register_opts
from t4o.workloads import targets
from t4o.workloads.targets import CONFIG_TARGET_ID, Target

PROBE_TIMEOUT = 5.0  # seconds a request waits for the filesystems to answer
MAX_PROBES = 8  # targets probed at once by one request


@dataclass(frozen=True)
class _Fs:
    mount_point: str
    total: int
    free: int
    used: int


def _read_fs(path: str) -> _Fs:
    st = os.statvfs(path)
    return _Fs(
        mount_point=mount_point_of(path),
        total=st.f_blocks * st.f_frsize,
        free=st.f_bavail * st.f_frsize,  # what the services (not root) may still write
        used=(st.f_blocks - st.f_bfree) * st.f_frsize,
    )


_lock = threading.Lock()


class _Probe(threading.Thread):
    """One ``_read_fs(path)``; it leaves ``_hanging`` when it returns, however late."""

    def __init__(self, path: str) -> None:
        super().__init__(name=f"statvfs {path}", daemon=True)
        self.path = path
        self.fs: _Fs | None = None
        self.error: OSError | None = None

    def run(self) -> None:
        try:
            self.fs = _read_fs(self.path)
        except OSError as exc:
            self.error = exc
        finally:
            with _lock:
                if _hanging.get(self.path) is self:
                    del _hanging[self.path]


_hanging: dict[str, _Probe] = {}  # path -> the probe that has not returned yet


def _probe(path: str, timeout: float) -> _Fs:
    """The filesystem of ``path`` (joining a probe of it under way); TimeoutError when it does not
    answer in ``timeout`` s."""
    with _lock:
        probe = _hanging.get(path)
        if probe is None:
            probe = _hanging[path] = _Probe(path)
            probe.start()
    probe.join(timeout)
    if probe.is_alive():
        raise TimeoutError
    if probe.error is not None:
        raise probe.error
    assert probe.fs is not None
    return probe.fs


def _shown_url(url: str) -> str:
    """The location without credentials or query (an S3 URL may carry an endpoint with a user)."""
    if "://" not in url or url.startswith("file://"):
        return url.removeprefix("file://")
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.hostname or "", parts.path, "", ""))


def _unknown(entry: dict[str, Any], reason: str) -> dict[str, Any]:
    return {**entry, "total_bytes": None, "free_bytes": None, "used_bytes": None, "reason": reason}


def capacity(
    target: Target,
    stored_bytes: int,
    snapshots: int = 0,
    workloads: int = 0,
    conf: cfg.ConfigOpts = CONF,
    timeout: float = PROBE_TIMEOUT,
) -> dict[str, Any]:
    """A target's entry: id, name, type, location, capacity (null with a ``reason`` when not known),
    and what lives there: ``stored_bytes`` by ``snapshots`` live snapshots of ``workload_count``
    workloads."""
    register_opts(conf)
    entry: dict[str, Any] = {
        "id": target.id,
        "name": target.name,
        "url": _shown_url(target.url),
        "type": target.type,
        "default": target.is_default,
        "mount_point": None,
        "stored_bytes": stored_bytes,
        "snapshots": snapshots,
        "workload_count": workloads,
    }
    if not target.url:
        return _unknown(entry, "no backup target is configured ([backup_target] url)")
    if target.type == "s3":
        return _unknown(entry, "an S3 bucket has no fixed capacity; see the S3 service's own quota")
    path = target.location(conf) if target.type == "nfs" else entry["url"]
    try:
        fs = _probe(path, timeout)
    except TimeoutError:
        return _unknown(
            entry, f"the filesystem of {path} did not answer within {timeout:g} s (a hung share?)"
        )
    except FileNotFoundError:
        return _unknown(entry, f"the directory {path} does not exist (is its share mounted?)")
    except OSError as exc:
        return _unknown(entry, f"cannot read the filesystem of {path}: {exc.strerror or exc}")
    entry["mount_point"] = fs.mount_point
    if target.type == "nfs" and fs.mount_point != path:
        # The empty mount point's figures are those of the filesystem under it: they would mislead.
        share = targets.nfs_share(target.url)
        return _unknown(
            entry,
            f"the NFS export {share} is not mounted at {path} on the API host (mount -t nfs {share} {path})",
        )
    if target.type == "posix" and conf.backup_target.require_mount and fs.mount_point == "/":
        return _unknown(
            entry,
            f"{path} is not on a mounted filesystem ([backup_target] require_mount is set): its share is "
            "not mounted, and the root filesystem's figures would mislead",
        )
    return {**entry, "total_bytes": fs.total, "free_bytes": fs.free, "used_bytes": fs.used, "reason": None}


def every_target(conf: cfg.ConfigOpts = CONF, timeout: float = PROBE_TIMEOUT) -> list[dict[str, Any]]:
    """The entry of every target: the configured one first (left out only when targets are defined,
    it has no url and no workload uses it), then the defined ones by name."""
    rows = targets_db.target_list()
    stored = policy_api.stored_per_target()
    used = targets_db.workloads_using([r.id for r in rows]) if rows else {}
    on_configured = targets_db.workloads_on_configured()
    configured = targets.configured_target(conf)
    shown: list[tuple[Target, int]] = []
    if not rows or configured.url or on_configured or None in stored:
        shown.append((configured, on_configured))
    # Credentials stay sealed: the capacity needs none (an S3 target is not probed).
    shown += [
        (Target(r.id, r.name, r.type, r.url, r.is_default, r.immutable), used.get(r.id, 0)) for r in rows
    ]

    def one(item: tuple[Target, int]) -> dict[str, Any]:
        target, workloads = item
        snapshots, stored_bytes = stored.get(None if target.id == CONFIG_TARGET_ID else target.id, (0, 0))
        return capacity(target, stored_bytes, snapshots, workloads, conf, timeout)

    with ThreadPoolExecutor(
        max_workers=max(1, min(len(shown), MAX_PROBES)), thread_name_prefix="capacity"
    ) as pool:
        return list(pool.map(one, shown))
