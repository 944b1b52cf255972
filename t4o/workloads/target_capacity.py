"""The backup target's capacity, as administrators see it beside the storage usage.

A directory target reports its filesystem's total, free and used bytes (``statvfs``, read on the API
host, which mounts the same share as the workers). An S3 bucket has no fixed capacity: its figures are
null with the reason. The bytes the snapshots stored come from the database, as the Storage quota
counts them, so the two always agree.

``statvfs`` on a hard-mounted NFS share whose server is gone blocks in the kernel. The probe runs in a
helper thread the request waits for at most ``PROBE_TIMEOUT`` seconds; while a probe of a path still
hangs no second one starts, so a dead share costs one stuck thread, not one per request.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from oslo_config import cfg

from t4o.common.config import CONF
from t4o.vault import mount_point_of, register_opts

PROBE_TIMEOUT = 5.0  # seconds a request waits for the filesystem to answer


@dataclass(frozen=True)
class _Fs:
    mount_point: str
    total: int
    free: int
    used: int


_lock = threading.Lock()
_hanging: dict[str, threading.Thread] = {}  # path -> the probe that has not returned yet


def _read_fs(path: str) -> _Fs:
    st = os.statvfs(path)
    return _Fs(
        mount_point=mount_point_of(path),
        total=st.f_blocks * st.f_frsize,
        free=st.f_bavail * st.f_frsize,  # what the services (not root) may still write
        used=(st.f_blocks - st.f_bfree) * st.f_frsize,
    )


def _probe(path: str, timeout: float) -> _Fs:
    """``_read_fs(path)`` in a helper thread; TimeoutError when it does not return in ``timeout`` s."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["fs"] = _read_fs(path)
        except OSError as exc:
            outcome["error"] = exc
        finally:
            with _lock:
                if _hanging.get(path) is threading.current_thread():
                    del _hanging[path]

    with _lock:
        if path in _hanging:
            raise TimeoutError
        thread = threading.Thread(target=run, name=f"statvfs {path}", daemon=True)
        _hanging[path] = thread
        thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError
    if "error" in outcome:
        raise outcome["error"]
    fs: _Fs = outcome["fs"]
    return fs


def _shown_url(url: str) -> str:
    """The location without credentials or query (an S3 URL may carry an endpoint with a user)."""
    if "://" not in url or url.startswith("file://"):
        return url.removeprefix("file://")
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.hostname or "", parts.path, "", ""))


def _unknown(entry: dict[str, Any], reason: str) -> dict[str, Any]:
    return {**entry, "total_bytes": None, "free_bytes": None, "used_bytes": None, "reason": reason}


def backup_target(
    stored_bytes: int, conf: cfg.ConfigOpts = CONF, timeout: float = PROBE_TIMEOUT
) -> dict[str, Any]:
    """The configured ``[backup_target]``: type, location, capacity (null with a ``reason`` when not
    known) and ``stored_bytes``, what the snapshots stored there."""
    register_opts(conf)
    target = conf.backup_target
    url = target.url or ""
    entry: dict[str, Any] = {
        "url": _shown_url(url),
        "type": "s3" if url.startswith("s3://") else "posix",
        "default": True,
        "mount_point": None,
        "stored_bytes": stored_bytes,
    }
    if not url:
        return _unknown(entry, "no backup target is configured ([backup_target] url)")
    if entry["type"] == "s3":
        return _unknown(entry, "an S3 bucket has no fixed capacity; see the S3 service's own quota")
    path = entry["url"]
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
    if target.require_mount and fs.mount_point == "/":
        return _unknown(
            entry,
            f"{path} is not on a mounted filesystem ([backup_target] require_mount is set): its share is "
            "not mounted, and the root filesystem's figures would mislead",
        )
    return {**entry, "total_bytes": fs.total, "free_bytes": fs.free, "used_bytes": fs.used, "reason": None}
