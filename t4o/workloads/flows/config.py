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
    # Deployment-wide transfer slots (t4o.db.transfer_slots_api): they hold across every workloads worker.
    cfg.IntOpt(
        "max_transfers_per_host",
        default=2,
        min=0,
        help="Disk transfers (one VM's datamover transfer each, snapshot or restore) running at once on one "
        "compute host, over all workloads workers; more wait for a slot, queued fairly between projects. "
        "Keep it at or below [datamover] max_concurrent_transfers so the wait happens here, fairly, and "
        "not in the agent's own first-come queue. 0: no limit.",
    ),
    cfg.IntOpt(
        "max_transfers_per_target",
        default=8,
        min=0,
        help="Disk transfers running at once to or from one backup target. 0: no limit.",
    ),
    cfg.IntOpt(
        "max_transfers_total",
        default=0,
        min=0,
        help="Disk transfers running at once in the whole deployment. 0: no limit.",
    ),
    cfg.IntOpt(
        "transfer_slot_lease",
        default=60,
        min=5,
        help="Seconds a transfer slot (or a place in its queue) lasts unless its worker renews it; the "
        "worker renews it every quarter of that. A slot of a worker that died is granted again after at "
        "most this long (at once when the worker restarts).",
    ),
    # Guest hooks (t4o.workloads.flows.guest_hooks): commands run in the guest around its freeze.
    cfg.IntOpt(
        "guest_hook_timeout",
        default=60,
        min=1,
        max=3600,
        help="Seconds a guest hook (t4o_pre_freeze, t4o_post_thaw) may run when neither the VM's nor the "
        "workload's metadata sets t4o_hook_timeout. A pre-freeze hook that runs longer counts as failed.",
    ),
    cfg.IntOpt(
        "guest_hook_output_bytes",
        default=4096,
        min=256,
        max=65536,
        help="Bytes of a guest hook's stdout, and of its stderr, recorded with the snapshot (the last ones "
        "when the output is longer).",
    ),
]

# Backup targets defined through the API (t4o.workloads.targets).
TARGETS_OPTS: list[cfg.Opt] = [
    cfg.StrOpt(
        "nfs_mount_point_base",
        default="/var/lib/t4o/mnt",
        help="Where the NFS exports of backup targets of type nfs are mounted, on every workloads worker "
        "and compute host: nfs://server/export is used at <nfs_mount_point_base>/<md5 of server:/export>.",
    ),
]


def ensure_registered(conf: cfg.ConfigOpts = CONF) -> None:
    # Asked of each ConfigOpts, not once per process: a test's own ConfigOpts first must not leave CONF out.
    if "workflows" in conf:
        return
    conf.register_opts(TARGET_OPTS, group="backup_target")
    conf.register_opts(TARGETS_OPTS, group="backup_targets")
    dm_config.register_opts(conf)
    conf.register_opts(FLOW_OPTS, group="workflows")  # last: the mark that all of them are registered


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """Entry point of oslo-config-generator (namespace 't4o.workflows')."""
    return [
        ("backup_target", TARGET_OPTS),
        ("backup_targets", TARGETS_OPTS),
        ("workflows", FLOW_OPTS),
        *dm_config.list_opts(),
    ]
