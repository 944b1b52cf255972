"""Options of workloadmgr-cron (Trilio's ``[global_job_scheduler]`` group)."""

from __future__ import annotations

from oslo_config import cfg

from t4o.openstack import keystone_trusts

GROUP = "global_job_scheduler"

OPTS = [
    cfg.IntOpt(
        "misfire_grace_time",
        default=600,
        min=1,
        help="Seconds after its scheduled time a run may still start (e.g. after a restart of every cron "
        "process); a run found later is recorded as missed, not fired.",
    ),
    cfg.FloatOpt(
        "tick_interval",
        default=30.0,
        min=0.1,
        help="Seconds between two looks at the schedules. Keep it well below misfire_grace_time.",
    ),
    cfg.BoolOpt(
        "retention_gc",
        default=True,
        help="Run the vault's garbage collection after retention deleted snapshots, to free their chunks.",
    ),
    cfg.IntOpt(
        "reconcile_interval",
        default=3600,
        min=0,
        help="Seconds between two reconciles of the backup target with the database: workloads and "
        "snapshots found on the target but not in the database are reported (log and notification "
        "t4o.reconcile.report), never deleted (they may be import candidates). 0 turns it off.",
    ),
]


def ensure_registered(conf: cfg.ConfigOpts = cfg.CONF) -> None:
    # Asked of each ConfigOpts, not once per process: a test's own ConfigOpts first must not leave CONF out.
    if GROUP not in conf:
        conf.register_opts(OPTS, group=GROUP)


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """Entry point of oslo-config-generator (namespace 't4o.cron'): also the trustee of scheduled jobs."""
    return [(GROUP, OPTS), *keystone_trusts.list_opts()]
