"""workloadmgr-cron: fires due scheduled snapshots and applies retention.

Each tick, for every workload with an enabled schedule: compute the latest scheduled time, claim it with a
unique (workload, time) row (of several cron processes only one wins), and queue the snapshot through the
workloads API layer as the workload's owner would, so the scheduler and workers treat it like any other.
A run found after ``misfire_grace_time`` is recorded as missed instead. Retention runs after each tick's
snapshots, for every scheduled workload that is not busy. Every ``reconcile_interval`` it reports what
the backup target holds and the database does not (reconcile.py). Each tick also sweeps the mounted
snapshots (t4o.workloads.mounts): idle ones are dismounted, and checks every workload's RPO
(t4o.policies.rpo): a new breach is notified and mailed once.

A schedule with a backup window (t4o.policies.windows) starts its runs only while the window is open: a run
due outside waits for the opening, and one not started when the window closes (no cron process ran, or the
workload stayed busy: the run ``waiting``) is recorded as missed. A run whose snapshot failed for a transient
reason (t4o.policies.retry) is ``retrying``: it is started again after an exponential backoff, within its
window and before the schedule's next run, up to ``[cron] retry_attempts`` times; its failure is notified
and mailed only when no attempt is left. Each status change writes, in the same update, what the API shows
of it in the run's ``details``: every attempt (start, end, result, error, whether and when it is retried)
and why a run was missed.
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
from t4o.policies import global_scheduler, jobschedule, notify, retention, retry, rpo, trusts, windows
from t4o.workloads import mounts
from t4o.workloads.api import WorkloadAPI

LOG = get_logger(__name__)
AUDIT_ROTATE_INTERVAL = 3600.0  # seconds between two rotations of the audit log

PENDING = (pm.RUN_WAITING, pm.RUN_RETRYING)  # runs claimed but not yet started (again)

# Why a run is missed (its details' missed.reason): its window closed with no cron process running in it,
# or with the workload busy all along; or, without a window, found beyond misfire_grace_time.
MISSED_WINDOW = "window_closed"
MISSED_BUSY = "window_closed_busy"
MISSED_GRACE = "misfire_grace_time"

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
        scheduled=True,
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
        pending: dict[str, list[dict[str, Any]]] = {}
        for run in policy_api.runs_pending(PENDING):
            pending.setdefault(run["workload_id"], []).append(run)
        queued: list[str] = []
        for wl in policy_api.scheduled_workloads():
            try:
                schedule = jobschedule.parse(wl["jobschedule"])
            except errors.BadRequest as exc:
                LOG.warning("Workload %s has an unusable schedule, skipped: %s", wl["id"], exc)
                continue
            try:
                snap_id = self._run_pending(wl, schedule, pending.get(wl["id"], []), now)
                snap_id = snap_id or self._run_due(wl, schedule, now)
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
        last = policy_api.last_run(wl["id"])
        if schedule.window is None:
            grace = float(self.conf.global_job_scheduler.misfire_grace_time)
            fire_at, missed = jobschedule.due(schedule, last, now, grace)
            if missed is not None:
                late = (now - missed).total_seconds()
                msg = f"found {late:.0f} s after its time, beyond misfire_grace_time ({grace:.0f} s)"
                self._claim_missed(wl, missed, msg, {"reason": MISSED_GRACE, "detail": msg})
        else:
            due = windows.due(schedule.window, schedule.tz, schedule.previous_run, last, now)
            if due.missed is not None and due.missed_close is not None:
                detail = "no cron process ran while it was open"
                msg = f"{_window_closed(schedule, due.missed_close)}: {detail}"
                why = _missed_window(schedule, due.missed_close, MISSED_WINDOW, detail)
                self._claim_missed(wl, due.missed, msg, why)
            fire_at = due.fire
        if fire_at is None:
            return None
        run_id = policy_api.claim_run(wl["id"], fire_at, self.host, pm.RUN_FIRED)
        if run_id is None:
            LOG.debug("Run %s of workload %s was claimed by another cron process", fire_at, wl["id"])
            return None
        return self._attempt(wl, schedule, run_id, fire_at, now, 1)

    def _claim_missed(self, wl: dict[str, Any], missed: dt.datetime, msg: str, why: dict[str, Any]) -> None:
        if policy_api.claim_run(wl["id"], missed, self.host, pm.RUN_MISSED, msg, missed=why):
            LOG.warning("Scheduled run %s of workload %s missed: %s", missed.isoformat(), wl["id"], msg)

    def _attempt(
        self,
        wl: dict[str, Any],
        schedule: jobschedule.JobSchedule,
        run_id: str,
        fire_at: dt.datetime,
        now: dt.datetime,
        attempt: int,
        note: str = "",
    ) -> str | None:
        """Queue the snapshot of a run this process holds (status fired, no snapshot yet)."""
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
            "attempt": attempt,
        }
        ctx = owner_context(wl)
        try:
            ctx = self._job_context(wl, ctx)
            snap = self.fire(ctx, wl["id"], body, full)
        except Exception as exc:
            verdict = retry.classify(exc)
            if isinstance(exc, errors.Conflict) and not verdict.transient:
                self._busy(wl, schedule, run_id, fire_at, now, attempt, exc, note)
                return None
            LOG.error("Scheduled run %s of workload %s failed: %s", fire_at.isoformat(), wl["id"], exc)
            entry = {
                **_attempt_entry(attempt, now),
                "ended_at": _iso(now),
                "result": "failed",
                "error": str(exc),
            }
            policy_api.finish_run(
                run_id, pm.RUN_FIRED, note, attempt=entry, attempts=attempt, next_attempt_at=None
            )
            self._failed(
                wl, schedule, run_id, fire_at, now, attempt, str(exc), verdict, pm.RUN_FAILED, payload
            )
            return None
        policy_api.finish_run(
            run_id,
            pm.RUN_FIRED,
            note,
            attempt=_attempt_entry(attempt, now, snap.id),
            snapshot_id=snap.id,
            snapshot_type=payload["snapshot_type"],
            attempts=attempt,
            next_attempt_at=None,
        )
        payload["snapshot_id"] = snap.id
        notify.emit(self.conf, ctx, "scheduled_snapshot", "start", payload)
        LOG.info(
            "Scheduled %s snapshot %s of workload %s for %s (attempt %d)",
            payload["snapshot_type"],
            snap.id,
            wl["id"],
            fire_at.isoformat(),
            attempt,
        )
        return str(snap.id)

    def _busy(
        self,
        wl: dict[str, Any],
        schedule: jobschedule.JobSchedule,
        run_id: str,
        fire_at: dt.datetime,
        now: dt.datetime,
        attempt: int,
        exc: Exception,
        note: str,
    ) -> None:
        """The workload is busy: without a window a first attempt is skipped (the next run comes soon);
        in a window, or for a retry, the run waits and is tried again each tick (no attempt counted)."""
        if schedule.window is None and attempt == 1:
            policy_api.finish_run(run_id, pm.RUN_SKIPPED, str(exc))
            LOG.warning("Scheduled run %s of workload %s skipped: %s", fire_at.isoformat(), wl["id"], exc)
            return
        if attempt == 1:
            status, message = pm.RUN_WAITING, f"{exc} [tried again each tick]"
        else:  # keep the failure being retried: it is what the run reports if it gives up
            status = pm.RUN_RETRYING
            message = f"{_error_of(note)} [attempt {attempt}: {exc}; tried again each tick]"
        policy_api.finish_run(run_id, status, message, attempts=attempt - 1, next_attempt_at=_naive(now))
        LOG.info("Scheduled run %s of workload %s waits: %s", fire_at.isoformat(), wl["id"], exc)

    def _failed(
        self,
        wl: dict[str, Any],
        schedule: jobschedule.JobSchedule,
        run_id: str,
        fire_at: dt.datetime,
        now: dt.datetime,
        attempt: int,
        error: str,
        verdict: retry.Verdict,
        final_status: str,
        payload: dict[str, Any],
        ended: dict[str, Any] | None = None,
    ) -> None:
        """After a failed attempt (the run fired): schedule the next one, or report the run's failure.
        ``ended``: how the attempt's snapshot ended, for its entry in the run's details."""
        total = 1 + int(self.conf.cron.retry_attempts)
        next_at = now + dt.timedelta(
            seconds=retry.backoff(attempt, self.conf.cron.retry_backoff, self.conf.cron.retry_backoff_max)
        )
        why_not = self._no_retry(schedule, fire_at, verdict, attempt, total, next_at)
        entry: dict[str, Any] = {"attempt": attempt, **(ended or {})}
        if why_not is None:
            note = f"attempt {attempt} of {total} failed ({verdict.reason}); next attempt at {_iso(next_at)}"
            entry.update(will_retry=True, next_attempt_at=_iso(next_at), retry_reason=verdict.reason)
            if policy_api.run_transition(
                run_id,
                pm.RUN_FIRED,
                pm.RUN_RETRYING,
                attempt=entry,
                message=f"{error} [{note}]",
                next_attempt_at=_naive(next_at),
            ):
                LOG.warning(
                    "Scheduled run %s of workload %s: %s: %s", fire_at.isoformat(), wl["id"], note, error
                )
            return
        message = (
            error
            if attempt == 1 and not verdict.transient
            else f"{error} [attempt {attempt} of {total}; {why_not}]"
        )
        entry.update(will_retry=False, next_attempt_at=None, retry_reason=why_not)
        if policy_api.run_transition(run_id, pm.RUN_FIRED, final_status, attempt=entry, message=message):
            self._report_failure(wl, payload, message, attempt)

    def _no_retry(
        self,
        schedule: jobschedule.JobSchedule,
        fire_at: dt.datetime,
        verdict: retry.Verdict,
        attempt: int,
        total: int,
        next_at: dt.datetime,
    ) -> str | None:
        """Why a failed attempt gets no other, or None when it does."""
        if not verdict.transient:
            return f"not retried: {verdict.reason}"
        if attempt >= total:
            return "no attempt left"
        if schedule.window is not None:
            _, close = schedule.window.span(fire_at, schedule.tz)
            if next_at >= close:
                return f"{_window_closed(schedule, close)} before the next attempt at {_iso(next_at)}"
        newer = schedule.previous_run(next_at)
        if newer is not None and newer > fire_at:
            return f"the next scheduled run at {_iso(newer)} comes before the next attempt"
        return None

    def _report_failure(
        self, wl: dict[str, Any], payload: dict[str, Any], message: str, attempts: int
    ) -> None:
        """The run's failure, once: the scheduled_snapshot error notification and mail."""
        payload = {**payload, "error": message, "attempts": attempts}
        payload.pop("attempt", None)
        ctx = owner_context(wl)
        notify.emit(self.conf, ctx, "scheduled_snapshot", "error", payload, self._smtp(wl))

    def _run_pending(
        self,
        wl: dict[str, Any],
        schedule: jobschedule.JobSchedule,
        runs: list[dict[str, Any]],
        now: dt.datetime,
    ) -> str | None:
        """Start again the waiting or retrying runs of the workload that are due, or give them up."""
        latest = schedule.previous_run(now)
        grace = float(self.conf.global_job_scheduler.misfire_grace_time)
        total = 1 + int(self.conf.cron.retry_attempts)
        for run in runs:
            at = run["scheduled_time"].replace(tzinfo=dt.UTC)
            next_at = (run["next_attempt_at"] or run["scheduled_time"]).replace(tzinfo=dt.UTC)
            why_not, closed = None, None
            if latest is not None and latest > at:
                why_not = f"the next scheduled run at {_iso(latest)} came due"
            elif schedule.window is not None:
                _, close = schedule.window.span(at, schedule.tz)
                if now >= close:
                    why_not = _window_closed(schedule, close)
                    closed = _missed_window(schedule, close, MISSED_BUSY, _error_of(run["message"]))
            elif (now - next_at).total_seconds() > grace:
                why_not = f"found {(now - next_at).total_seconds():.0f} s after the attempt was due"
            if why_not is not None:
                self._give_up(wl, run, why_not, total, closed)
                continue
            if next_at > now:
                continue
            note = run["message"]
            if not policy_api.run_transition(
                run["id"], run["status"], pm.RUN_FIRED, now=now, snapshot_id=None
            ):
                continue  # another cron process took it
            snap_id = self._attempt(wl, schedule, run["id"], at, now, int(run["attempts"]) + 1, note)
            if snap_id:
                return snap_id
        return None

    def _give_up(
        self,
        wl: dict[str, Any],
        run: dict[str, Any],
        why_not: str,
        total: int,
        window_closed: dict[str, Any] | None,
    ) -> None:
        """A pending run gets no other start; ``window_closed``: why it is missed, when its window closed."""
        error = _error_of(run["message"])
        entry, missed = None, None
        if run["status"] == pm.RUN_WAITING:
            # Its window closed: missed; a newer run took over while the workload was busy: skipped.
            status = pm.RUN_MISSED if window_closed else pm.RUN_SKIPPED
            message = f"{why_not} before it could start: {error}"
            missed = window_closed
        else:
            status = pm.RUN_ERROR if run["snapshot_id"] else pm.RUN_FAILED
            message = f"{error} [attempt {run['attempts']} of {total}; {why_not}]"
            if int(run["attempts"]) > 0:  # the failed attempt said it would be retried: it is not
                entry = {
                    "attempt": int(run["attempts"]),
                    "will_retry": False,
                    "next_attempt_at": None,
                    "retry_reason": why_not,
                }
        if not policy_api.run_transition(
            run["id"], run["status"], status, attempt=entry, missed=missed, message=message
        ):
            return
        LOG.warning(
            "Scheduled run %s of workload %s %s: %s", run["scheduled_time"], wl["id"], status, message
        )
        if run["status"] == pm.RUN_RETRYING:  # a failure, reported once: now
            payload = {
                "workload_id": wl["id"],
                "project_id": wl["project_id"],
                "user_id": wl["user_id"],
                "scheduled_time": run["scheduled_time"].replace(tzinfo=dt.UTC).isoformat(),
                "snapshot_id": run["snapshot_id"],
                "status": status,
            }
            self._report_failure(wl, payload, message, int(run["attempts"]))

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
        """Settle fired runs whose snapshot ended, and send their end (or error) notification once; a
        snapshot that failed for a transient reason is retried instead (the run ``retrying``)."""
        now = self.clock.now()
        total = 1 + int(self.conf.cron.retry_attempts)
        for run in policy_api.runs_ended():
            ok = run["status"] == states.AVAILABLE
            attempts = max(int(run["attempts"]), 1)
            finished = run["finished_at"].replace(tzinfo=dt.UTC) if run["finished_at"] else now
            ended = {"ended_at": _iso(finished), "result": run["status"], "error": run["error_msg"]}
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
                error = run["error_msg"] or f"The snapshot ended {run['status']}."
                wl = {"id": run["workload_id"], "project_id": run["project_id"], "user_id": run["user_id"]}
                verdict = (
                    retry.classify(error)
                    if run["status"] == states.ERROR
                    else retry.Verdict(False, "cancelled")
                )
                schedule = self._schedule_of(run["workload_id"])
                if schedule is None:
                    verdict = retry.Verdict(False, "the workload has no usable schedule any more")
                    schedule = jobschedule.JobSchedule()
                at = run["scheduled_time"].replace(tzinfo=dt.UTC)
                ended["error"] = error
                self._failed(
                    wl, schedule, run["id"], at, now, attempts, error, verdict, pm.RUN_ERROR, payload, ended
                )
                continue
            message = ""
            if attempts > 1:
                message = f"completed at attempt {attempts} of {total}; before: {_error_of(run['message'])}"
            entry = {"attempt": attempts, **ended, "will_retry": False, "next_attempt_at": None}
            if not policy_api.run_settle(run["id"], pm.RUN_COMPLETED, message, attempt=entry):
                continue
            ctx = owner_context({"user_id": run["user_id"], "project_id": run["project_id"]})
            settings = self._smtp({"project_id": run["project_id"]})
            notify.emit(
                self.conf, ctx, "scheduled_snapshot", "end", {**payload, "attempts": attempts}, settings
            )

    @staticmethod
    def _schedule_of(workload_id: str) -> jobschedule.JobSchedule | None:
        try:
            return jobschedule.parse(db.workload_get(workload_id, None).jobschedule)
        except (errors.BadRequest, errors.NotFound):
            return None

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


def _attempt_entry(attempt: int, now: dt.datetime, snapshot_id: str | None = None) -> dict[str, Any]:
    """A new attempt's entry in the run's details; its end and its retry are filled in later."""
    return {
        "attempt": attempt,
        "started_at": _iso(now),
        "ended_at": None,
        "result": "running" if snapshot_id else None,
        "snapshot_id": snapshot_id,
        "error": None,
        "will_retry": None,
        "next_attempt_at": None,
        "retry_reason": None,
    }


def _missed_window(
    schedule: jobschedule.JobSchedule, close: dt.datetime, reason: str, detail: str
) -> dict[str, Any]:
    """Why a run of a windowed schedule is missed, as the run's details say it."""
    assert schedule.window is not None
    return {
        "reason": reason,
        "window": {"start": f"{schedule.window.start:%H:%M}", "end": f"{schedule.window.end:%H:%M}"},
        "timezone": schedule.timezone,
        "window_closed_at": _iso(close),
        "detail": detail,
    }


def _naive(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.UTC).replace(tzinfo=None)


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _window_closed(schedule: jobschedule.JobSchedule, close: dt.datetime) -> str:
    assert schedule.window is not None
    return f"its backup window {schedule.window.describe()} ({schedule.timezone}) closed at {_iso(close)}"


def _error_of(message: str) -> str:
    """A run's message without the bracketed note the cron service appends (attempts, next attempt)."""
    text = message or ""
    if text.endswith("]") and " [" in text:
        return text.rpartition(" [")[0]
    return text
