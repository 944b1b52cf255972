"""Options of the snapshot and restore workflows: cloud wait limits (and, for the sample config, the
backup target's options, which belong to t4o.vault)."""

from __future__ import annotations

from oslo_config import cfg

from t4o.common.config import CONF
from t4o.datamover import config as dm_config
from t4o.vault import TARGET_OPTS

FLOW_OPTS: list[cfg.Opt] = [
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
