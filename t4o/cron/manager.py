"""workloadmgr-cron: fires due scheduled snapshots and applies retention.

Each tick, for every workload with an enabled schedule: compute the latest scheduled time, claim it with a
unique (workload, time) row (of several cron processes only one wins), and queue the snapshot through the
workloads API layer as the workload's owner would, so the scheduler and workers treat it like any other.
A run found after ``misfire_grace_time`` is recorded as missed instead. Retention runs after each tick's
snapshots, for every scheduled workload that is not busy. Every ``reconcile_interval`` it reports what
the backup target holds and the database does not (reconcile.py). Each tick also sweeps the mounted
snapshots (t4o.workloads.mounts): idle ones are dismounted, and checks every workload's RPO
(t4o.policies.rpo): a new breach is notified and mailed once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import oslo_messaging as messaging
from oslo_config import cfg

from t4o.common import errors
from t4o.common.context import RequestContext
from t4o.common.log import get_logger
from t4o.cron import config as cron_config
from t4o.cron import reconcile
from t4o.cron import retention as retention_run
from t4o.cron.clock import Clock, SystemClock
from t4o.db import api as db
from t4o.db import audit_api, policy_api, states
from t4o.db import policy_models as pm
from t4o.openstack import keystone_trusts
from t4o.policies import global_scheduler, jobschedule, notify, retention, rpo, trusts
from t4o.workloads import mounts
from t4o.workloads.api import WorkloadAPI

LOG = get_logger(__name__)
AUDIT_ROTATE_INTERVAL = 3600.0  # seconds between two rotations of the audit log

# (context, workload_id, body, full) -> the snapshot row; default: WorkloadAPI.snapshot_workload
FireFn = Callable[[RequestContext, str, dict[str, Any], bool], Any]


def _default_fire(ctx: RequestContext, workload_id: str, body: dict[str, Any], full: bool) -> Any:
    return WorkloadAPI().snapshot_workload(ctx, workload_id, body, full)


def owner_context(workload: dict[str, Any]) -> RequestContext:
    """The workload's owner, as the API would see them (the trust, when there is one, authenticates it)."""
    return RequestContext(
        user_id=workload["user_id"] or None,
        project_id=workload["project_id"],
        roles=["member"],
        is_admin=False,
        overwrite=False,
    )


class CronManager:
    target = messaging.Target(version="1.0")

    def __init__(
        self,
        conf: cfg.ConfigOpts,
        clock: Clock | None = None,
        fire: FireFn | None = None,
        vault: retention_run.VaultOpener = retention_run.default_vault,
    ) -> None:
        cron_config.ensure_registered(conf)
        keystone_trusts.ensure_registered(conf)
        self.conf = conf
        self.clock = clock or SystemClock()
        self.fire = fire or _default_fire
        self.vault = vault
        self.mounts = mounts.SnapshotMounts(conf=conf)
        self._audit_rotated_at: dt.datetime | None = None

    @property
    def host(self) -> str:
        return str(self.conf.host)

    def periodic_tasks(self) -> list[tuple[float, Any]]:
        tasks: list[tuple[float, Any]] = [(float(self.conf.global_job_scheduler.tick_interval), self.tick)]
        if self.conf.global_job_scheduler.reconcile_interval:
            tasks.append((float(self.conf.global_job_scheduler.reconcile_interval), self.reconcile))
        return tasks

    def rotate_audit_log(self) -> int:
        """Delete the audit log entries older than ``[audit] keep_days``, at most once every
        AUDIT_ROTATE_INTERVAL (each tick asks); how many went."""
        now = self.clock.now()
        last = self._audit_rotated_at
        if last is not None and (now - last).total_seconds() < AUDIT_ROTATE_INTERVAL:
            return 0
        self._audit_rotated_at = now
        try:
            count = audit_api.purge_older_than(int(self.conf.audit.keep_days), now)
        except Exception:  # the database may be down now: the next run tries again
            LOG.exception("Rotation of the audit log failed")
            return 0
        if count:
            LOG.info("Deleted %d audit log entries older than %d days", count, self.conf.audit.keep_days)
        return count

    def sweep_mounts(self) -> mounts.SweepReport | None:
        """Dismount idle snapshot mounts, mount again what an agent lost, settle half-done ones."""
        try:
            return self.mounts.sweep(self.clock.now())
        except Exception:  # the database or datamover-api may be down now: the next tick tries again
            LOG.exception("Sweep of the mounted snapshots failed")
            return None

    def check_rpo(self) -> list[str]:
        """Alert once on each new RPO breach (t4o.policies.rpo); the ids of the workloads alerted."""
        try:
            return rpo.check(self.conf, self.clock.now(), lambda project: self._smtp({"project_id": project}))
        except Exception:  # the database may be down now: the next tick checks again
            LOG.exception("RPO check failed")
            return []

    def reconcile(self) -> dict[str, Any] | None:
        """Report what the backup target holds that the database does not (see reconcile.py)."""
        try:
            return reconcile.run(self.conf, self.vault())
        except Exception:  # the target may be down now: the next run tries again
            LOG.exception("Reconcile of the backup target with the database failed")
            return None

    def tick(self) -> list[str]:
        """One look at every schedule; returns the ids of the snapshots queued. Mounted snapshots are
        looked at first, also while the global job scheduler is disabled."""
        self.sweep_mounts()
        self.check_rpo()  # also while the scheduler is disabled: stale backups are what it reports
        self.rotate_audit_log()
        if not global_scheduler.enabled():
            LOG.debug("Global job scheduler disabled: no scheduled snapshot fires")
            return []
        now = self.clock.now()
        self.report_ended()
        queued: list[str] = []
        for wl in policy_api.scheduled_workloads():
            try:
                schedule = jobschedule.parse(wl["jobschedule"])
            except errors.BadRequest as exc:
                LOG.warning("Workload %s has an unusable schedule, skipped: %s", wl["id"], exc)
                continue
            try:
                snap_id = self._run_due(wl, schedule, now)
                if snap_id:
                    queued.append(snap_id)
                elif wl["status"] == states.AVAILABLE and retention.has_rules(schedule):
                    retention_run.apply(
                        wl["id"], schedule, now, self.vault, gc=self.conf.global_job_scheduler.retention_gc
                    )
            except Exception:  # one workload's trouble must not stop the others' schedules
                LOG.exception("Schedule of workload %s failed this tick", wl["id"])
        return queued

    def _run_due(self, wl: dict[str, Any], schedule: jobschedule.JobSchedule, now: dt.datetime) -> str | None:
        grace = float(self.conf.global_job_scheduler.misfire_grace_time)
        fire_at, missed = jobschedule.due(schedule, policy_api.last_run(wl["id"]), now, grace)
        if missed is not None:
            late = (now - missed).total_seconds()
            msg = f"found {late:.0f} s after its time, beyond misfire_grace_time ({grace:.0f} s)"
            if policy_api.claim_run(wl["id"], missed, self.host, pm.RUN_MISSED, msg):
                LOG.warning("Scheduled run %s of workload %s missed: %s", missed.isoformat(), wl["id"], msg)
        if fire_at is None:
            return None
        run_id = policy_api.claim_run(wl["id"], fire_at, self.host, pm.RUN_FIRED)
        if run_id is None:
            LOG.debug("Run %s of workload %s was claimed by another cron process", fire_at, wl["id"])
            return None
        full = jobschedule.is_full(
            schedule.fullbackup_interval, self._since_last_full(wl["id"]), schedule.tiers_at(fire_at)
        )
        body = {"name": f"scheduled {fire_at:%Y-%m-%d %H:%M} UTC", "description": "Scheduled snapshot"}
        payload: dict[str, Any] = {
            "workload_id": wl["id"],
            "project_id": wl["project_id"],
            "user_id": wl["user_id"],
            "scheduled_time": fire_at.isoformat(),
            "snapshot_type": "full" if full else "incremental",
        }
        ctx = owner_context(wl)
        try:
            ctx = self._job_context(wl, ctx)
            snap = self.fire(ctx, wl["id"], body, full)
        except errors.Conflict as exc:
            policy_api.finish_run(run_id, pm.RUN_SKIPPED, str(exc))
            LOG.warning("Scheduled run %s of workload %s skipped: %s", fire_at.isoformat(), wl["id"], exc)
            return None
        except Exception as exc:
            policy_api.finish_run(run_id, pm.RUN_FAILED, str(exc))
            LOG.error("Scheduled run %s of workload %s failed: %s", fire_at.isoformat(), wl["id"], exc)
            payload["error"] = str(exc)
            notify.emit(self.conf, ctx, "scheduled_snapshot", "error", payload, self._smtp(wl))
            return None
        policy_api.finish_run(
            run_id, pm.RUN_FIRED, snapshot_id=snap.id, snapshot_type=payload["snapshot_type"]
        )
        payload["snapshot_id"] = snap.id
        notify.emit(self.conf, ctx, "scheduled_snapshot", "start", payload)
        LOG.info(
            "Scheduled %s snapshot %s of workload %s for %s",
            payload["snapshot_type"],
            snap.id,
            wl["id"],
            fire_at.isoformat(),
        )
        return str(snap.id)

    def _job_context(self, wl: dict[str, Any], ctx: RequestContext) -> RequestContext:
        """With Keystone, the owner's trust gives the job its token; without (noauth) the owner's context."""
        if self.conf.auth_strategy != "keystone":
            return ctx
        trust_id = trusts.owner_trust_id(wl["project_id"], wl["user_id"])
        if trust_id is None:
            raise keystone_trusts.TrustError(
                f"Workload {wl['id']} has no trust from its owner {wl['user_id']}: the owner must set its "
                "schedule again to give T4O a trust."
            )
        return keystone_trusts.trust_context(self.conf, trust_id, ctx)

    @staticmethod
    def _smtp(wl: dict[str, Any]) -> dict[str, str]:
        try:
            return notify.smtp_settings(db.setting_list(wl["project_id"]))
        except Exception:  # the mail is a courtesy: never let it hide the job's own error
            LOG.exception("Could not read the SMTP settings of project %s", wl["project_id"])
            return {}

    def report_ended(self) -> None:
        """Settle fired runs whose snapshot ended, and send their end (or error) notification once."""
        for run in policy_api.runs_ended():
            ok = run["status"] == states.AVAILABLE
            message = "" if ok else (run["error_msg"] or f"The snapshot ended {run['status']}.")
            if not policy_api.run_settle(run["id"], pm.RUN_COMPLETED if ok else pm.RUN_ERROR, message):
                continue
            payload: dict[str, Any] = {
                "workload_id": run["workload_id"],
                "project_id": run["project_id"],
                "user_id": run["user_id"],
                "scheduled_time": run["scheduled_time"].replace(tzinfo=dt.UTC).isoformat(),
                "snapshot_id": run["snapshot_id"],
                "snapshot_type": run["snapshot_type"],
                "status": run["status"],
                "time_taken": run["time_taken"],
                "size": run["size"],
            }
            if not ok:
                payload["error"] = message
            ctx = owner_context({"user_id": run["user_id"], "project_id": run["project_id"]})
            settings = self._smtp({"project_id": run["project_id"]})
            notify.emit(self.conf, ctx, "scheduled_snapshot", "end" if ok else "error", payload, settings)

    @staticmethod
    def _since_last_full(workload_id: str) -> int | None:
        """Snapshots (not failed) after the newest full one; None when there is no full one."""
        count = 0
        for row in reversed(policy_api.snapshot_rows(workload_id)):
            if row["status"] in (states.ERROR, states.CANCELLED):
                continue
            if row["snapshot_type"] == "full":
                return count
            count += 1
        return None
