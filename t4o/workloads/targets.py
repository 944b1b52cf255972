"""Which backup target a workload uses, and how the workflows and agents open it.

A workload names its target in ``backup_target_id`` (chosen at create time, never changed: its
snapshots live there). NULL, or a deployment without targets defined through the API, means the
``[backup_target]`` of the configuration, shown by the API as the read-only target ``config``.

Types: ``posix`` (a directory), ``nfs`` (``nfs://server/export``, used at its mount point under
``[backup_targets] nfs_mount_point_base``, which the workers and agents mount when it is not mounted:
t4o.datamover.nfs_mount) and ``s3`` (``s3://bucket/prefix?endpoint=...``, with its own keys and, when
immutable, S3 Object Lock). The vault password is the deployment's (``[backup_target] password``)
whatever the target.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from oslo_config import cfg

from t4o import vault
from t4o.common.config import CONF
from t4o.datamover import nfs_mount
from t4o.db import api as db
from t4o.db import backup_target_api as targets_db
from t4o.db.models import BackupTarget
from t4o.policies import setting_secrets
from t4o.vault import Repository, TargetUnavailable
from t4o.workloads.flows import config

CONFIG_TARGET_ID = "config"
TYPES = ("nfs", "posix", "s3")


@dataclass(frozen=True)
class Target:
    id: str
    name: str
    type: str
    url: str
    is_default: bool = False
    immutable: bool = False
    read_only: bool = False
    credentials: dict[str, str] | None = field(default=None, repr=False)

    def location(self, conf: cfg.ConfigOpts = CONF) -> str:
        """What the vault opens: the URL, or for NFS the local mount point of the export."""
        if self.type != "nfs":
            return self.url
        return nfs_mount_point(self.url, conf)


def nfs_share(url: str) -> str:
    """``server:/export`` of ``nfs://server/export``."""
    parts = urlsplit(url)
    return f"{parts.netloc}:{parts.path or '/'}"


def nfs_mount_point(url: str, conf: cfg.ConfigOpts = CONF) -> str:
    config.ensure_registered(conf)
    digest = hashlib.md5(nfs_share(url).encode(), usedforsecurity=False).hexdigest()
    return os.path.join(conf.backup_targets.nfs_mount_point_base, digest)


def configured_target(conf: cfg.ConfigOpts = CONF) -> Target:
    """The ``[backup_target]`` of the configuration as a read-only target."""
    config.ensure_registered(conf)
    url = conf.backup_target.url or ""
    return Target(
        id=CONFIG_TARGET_ID,
        name="configured",
        type="s3" if url.startswith("s3://") else "posix",
        url=url,
        is_default=targets_db.target_default() is None,
        read_only=True,
    )


def seal_credentials(conf: cfg.ConfigOpts, credentials: dict[str, str] | None) -> str:
    return setting_secrets.seal(conf, json.dumps(credentials, sort_keys=True)) if credentials else ""


def _revealed(conf: cfg.ConfigOpts, stored: str) -> dict[str, str] | None:
    if not stored:
        return None
    clear = setting_secrets.reveal(conf, stored)
    if not clear:
        raise TargetUnavailable(
            "the S3 keys of a backup target cannot be decrypted: was [DEFAULT] settings_key changed?"
        )
    return dict(json.loads(clear))


def from_row(row: BackupTarget, conf: cfg.ConfigOpts = CONF) -> Target:
    return Target(
        id=row.id,
        name=row.name,
        type=row.type,
        url=row.url,
        is_default=row.is_default,
        immutable=row.immutable,
        credentials=_revealed(conf, row.credentials),
    )


def get(target_id: str | None, conf: cfg.ConfigOpts = CONF) -> Target:
    """The target of that id; None or ``config``: the configured one."""
    if not target_id or target_id == CONFIG_TARGET_ID:
        return configured_target(conf)
    return from_row(targets_db.target_get(target_id), conf)


def default_target_id() -> str | None:
    """What a new workload that names no target gets: the default target, or None (the configured)."""
    row = targets_db.target_default()
    return row.id if row is not None else None


def for_workload(workload: Any, conf: cfg.ConfigOpts = CONF) -> Target:
    """The target of a workload (a row or its id)."""
    if isinstance(workload, str):
        workload = db.workload_get(workload, None)
    return get(getattr(workload, "backup_target_id", None), conf)


def spec(target: Target, conf: cfg.ConfigOpts = CONF) -> dict[str, Any]:
    """How a datamover agent (and a workflow) opens the target (``vault.open_spec``)."""
    config.ensure_registered(conf)
    out: dict[str, Any] = {
        "url": target.location(conf),
        "password": conf.backup_target.password,
        "require_mount": target.type == "nfs" or conf.backup_target.require_mount,
    }
    if target.type == "nfs":
        out["nfs_share"] = nfs_share(target.url)  # the agent mounts it at "url" when it is not mounted
    if target.type == "s3":
        out["object_lock"] = target.immutable
        if target.credentials:
            out["credentials"] = dict(target.credentials)
    return out


def spec_for_workload(workload: Any, conf: cfg.ConfigOpts = CONF) -> dict[str, Any]:
    return spec(for_workload(workload, conf), conf)


def spec_for_snapshot(snapshot_id: str, conf: cfg.ConfigOpts = CONF) -> dict[str, Any]:
    """The spec of the target a snapshot lives on (its workload's)."""
    return spec_for_workload(db.snapshot_get(snapshot_id, None).workload_id, conf)


def open_target(target: Target, *, create: bool = False, conf: cfg.ConfigOpts = CONF) -> Repository:
    """The vault of ``target``; ``create`` lets a snapshot create it when ``[backup_target]
    create_if_missing`` says so (restores, retention and agents never do)."""
    config.ensure_registered(conf)
    if not target.url:
        raise TargetUnavailable("no backup target is configured: set [backup_target] url")
    if target.type == "nfs":
        try:
            nfs_mount.ensure_mounted(nfs_share(target.url), target.location(conf), conf)
        except TargetUnavailable as exc:
            raise TargetUnavailable(f"the backup target {target.name} is unavailable: {exc}") from None
    return vault.open_spec(
        spec(target, conf), create_if_missing=create and conf.backup_target.create_if_missing
    )


def open_for_workload(workload: Any, *, create: bool = False, conf: cfg.ConfigOpts = CONF) -> Repository:
    return open_target(for_workload(workload, conf), create=create, conf=conf)
