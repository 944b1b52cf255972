"""Options of the snapshot and restore workflows: the backup target and cloud wait limits."""

from __future__ import annotations

from oslo_config import cfg

from t4o.common.config import CONF
from t4o.datamover import config as dm_config

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
]
FLOW_OPTS = [
    cfg.IntOpt("server_timeout", default=600, min=10, help="Seconds to wait for a server to change state."),
    cfg.IntOpt("volume_timeout", default=300, min=10, help="Seconds to wait for a volume to change state."),
    cfg.IntOpt(
        "max_parallel_vms",
        default=2,
        min=1,
        help="VMs of a Parallel workload snapshotted at the same time (Serial workloads: one by one). "
        "Each is one datamover transfer; an agent runs [datamover] max_concurrent_transfers at once.",
    ),
]

_done = False


def ensure_registered(conf: cfg.ConfigOpts = CONF) -> None:
    global _done
    if _done:
        return
    conf.register_opts(TARGET_OPTS, group="backup_target")
    conf.register_opts(FLOW_OPTS, group="workflows")
    dm_config.register_opts(conf)
    _done = True


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """Entry point of oslo-config-generator (namespace 't4o.workflows')."""
    return [("backup_target", TARGET_OPTS), ("workflows", FLOW_OPTS), *dm_config.list_opts()]
