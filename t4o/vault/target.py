"""The backup target: its ``[backup_target]`` options, and opening its vault for every service.

The workflows, cron's retention and the datamover agents all open the vault here, with the same
checks and the same messages. A directory target is usually an NFS share mounted on every worker and
compute host. If the share is not mounted, its mount point is an empty local directory: creating a
vault there would fill the root filesystem with backups nobody else sees. So a target without a vault
is an error unless ``create_if_missing``, and with ``require_mount`` a directory on the root
filesystem is refused.
"""

from __future__ import annotations

import os
from typing import Any

from oslo_config import cfg

from t4o.vault.backend import BackendError
from t4o.vault.errors import RepositoryNotFound, VaultError
from t4o.vault.repository import Repository
from t4o.vault.url import open_backend

GROUP = "backup_target"
TARGET_OPTS = [
    cfg.StrOpt(
        "url",
        default="/var/lib/t4o/vault",
        help="Backup target (vault) location: a directory (an NFS mount shared with the compute hosts) "
        "or s3://bucket/prefix. Initialise it once with 't4o-vault init <url>'.",
    ),
    cfg.StrOpt("password", secret=True, help="Password of the vault (unset: not encrypted)."),
    cfg.BoolOpt(
        "create_if_missing",
        default=False,
        help="Let the first snapshot create the vault when the target holds none. Off by default: an "
        "unmounted NFS share looks like an empty directory, and a vault created there would fill the "
        "local disk with backups no other host sees.",
    ),
    cfg.BoolOpt(
        "require_mount",
        default=False,
        help="Refuse a directory target that is on the root filesystem (it must be on a mounted share, "
        "e.g. NFS). Set it when the target is a mount point.",
    ),
    cfg.IPOpt(
        "source_address",
        help="Dedicated backup network: the local address every connection of this service to an S3 "
        "backup target leaves from (this host's address on the backup network). Each service reads its "
        "own configuration: set it on every workloads worker and every compute host (datamover agent) "
        "to that host's address. A service whose address is missing refuses to open the target. "
        "Unset: the address the routing table picks. NFS traffic follows the routing table: route the "
        "NFS server through the backup interface instead.",
    ),
    cfg.StrOpt(
        "index_cache_dir",
        help="S3 targets: a local directory where this service keeps the vault's index files it read "
        "(they never change), so that each backup, restore and verify does not download them again. At "
        "most 1 GiB, least recently used files removed first. Unset: a directory of the service's user "
        "in the system's temporary directory. Empty: no cache.",
    ),
]


class TargetUnavailable(VaultError):
    """The backup target cannot be used; the message names it and says what to do."""


class TargetHoldsNoVault(TargetUnavailable):
    """The backup target answers but holds no vault (never initialised, or a share not mounted)."""


def register_opts(conf: cfg.ConfigOpts = cfg.CONF) -> None:
    conf.register_opts(TARGET_OPTS, group=GROUP)


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP, TARGET_OPTS)]


def mount_point_of(path: str) -> str:
    """The mount point of the filesystem that holds ``path`` (or would hold it, if it does not exist)."""
    current = os.path.abspath(path)
    while not os.path.ismount(current):
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return current


def open_repository(
    url: str,
    password: str | None = None,
    create: bool = True,
    *,
    credentials: dict[str, str] | None = None,
    object_lock: bool = False,
    source_address: str | None = None,
    index_cache_dir: str | None = None,
) -> Repository:
    """The vault at ``url``; with ``create``, a new one when there is none (tests, first setup)."""
    backend = open_backend(
        url,
        object_lock=object_lock,
        credentials=credentials,
        source_address=source_address,
        index_cache_dir=index_cache_dir,
    )
    try:
        return Repository.open(backend, password)
    except RepositoryNotFound:
        if not create:
            raise
        return Repository.init(backend, password)


def open_target(
    url: str,
    password: str | None = None,
    *,
    create_if_missing: bool = False,
    require_mount: bool = False,
    credentials: dict[str, str] | None = None,
    object_lock: bool = False,
    source_address: str | None = None,
    index_cache_dir: str | None = None,
) -> Repository:
    """Open the vault of the backup target ``url``, or raise TargetUnavailable saying why.

    ``credentials`` and ``object_lock`` are an S3 target's own keys and its immutability;
    ``source_address`` this host's address on the backup network (``[backup_target] source_address``);
    ``index_cache_dir`` as ``[backup_target] index_cache_dir``."""
    local = not url.startswith("s3://")
    path = url.removeprefix("file://")
    if local and require_mount and mount_point_of(path) == "/":
        raise TargetUnavailable(
            f"the backup target {url} is unavailable: it is not on a mounted filesystem (is its NFS share "
            "mounted?); [backup_target] require_mount is set"
        )
    try:
        return open_repository(
            url,
            password,
            create=create_if_missing,
            credentials=credentials,
            object_lock=object_lock,
            source_address=source_address,
            index_cache_dir=index_cache_dir,
        )
    except RepositoryNotFound:
        where = f" (on the filesystem mounted at {mount_point_of(path)})" if local else ""
        raise TargetHoldsNoVault(
            f"the backup target {url} is unavailable: it holds no vault{where}. If it is a share, check "
            f"that it is mounted; a new target is initialised once with 't4o-vault init {url}' (or set "
            "[backup_target] create_if_missing = true)"
        ) from None
    except (VaultError, BackendError) as exc:
        raise TargetUnavailable(f"the backup target {url} is unavailable: {exc}") from None
    except OSError as exc:
        raise TargetUnavailable(f"the backup target {url} is unavailable: {exc.strerror or exc}") from None


def open_configured_target(conf: cfg.ConfigOpts = cfg.CONF, *, create: bool = False) -> Repository:
    """The vault of the configured ``[backup_target]``. ``create`` lets a snapshot create it, and only
    when ``create_if_missing`` says so; retention, restores and agents never do."""
    register_opts(conf)
    target = conf[GROUP]
    if not target.url:
        raise TargetUnavailable("no backup target is configured: set [backup_target] url")
    return open_target(
        target.url,
        target.password or None,
        create_if_missing=create and target.create_if_missing,
        require_mount=target.require_mount,
        source_address=target.source_address,
        index_cache_dir=target.index_cache_dir,
    )


def target_spec(conf: cfg.ConfigOpts = cfg.CONF) -> dict[str, object]:
    """How a datamover agent opens the configured target (``open_spec``; agents never create it)."""
    register_opts(conf)
    target = conf[GROUP]
    return {"url": target.url, "password": target.password, "require_mount": target.require_mount}


def open_spec(
    spec: dict[str, Any], *, create_if_missing: bool = False, conf: cfg.ConfigOpts | None = None
) -> Repository:
    """The vault a workflow named in a transfer spec (``target_spec``, or a target defined through the
    API with its own S3 ``credentials`` and ``object_lock``). The source address is not in the spec:
    it is the opening host's own, from its configuration ``conf``."""
    conf = cfg.CONF if conf is None else conf
    register_opts(conf)
    credentials = spec.get("credentials")
    return open_target(
        str(spec["url"]),
        str(spec["password"]) if spec.get("password") else None,
        create_if_missing=create_if_missing,
        require_mount=bool(spec.get("require_mount")),
        credentials=dict(credentials) if credentials else None,
        object_lock=bool(spec.get("object_lock")),
        source_address=conf[GROUP].source_address,
        index_cache_dir=conf[GROUP].index_cache_dir,
    )
