"""The workloads worker's RPC endpoint: runs snapshot and restore jobs through the workflow registry,
and removes deleted snapshots and workloads from the backup target for the API."""

from __future__ import annotations

import threading
from typing import Any

import oslo_messaging as messaging
from oslo_config import cfg

from t4o.common.context import RequestContext
from t4o.common.log import get_logger
from t4o.db import api as db
from t4o.db import audit_api, restore_resources_api, states, transfer_slots_api
from t4o.openstack.cloud import Cloud, get_cloud
from t4o.policies import notify
from t4o.workloads import file_search, restore_cleanup, target_cleanup, workflows

LOG = get_logger(__name__)
MAX_FILE_SEARCHES = 2  # file searches run at once by one worker; more wait for their turn


class WorkloadsManager:
    target = messaging.Target(version="1.0")

    def __init__(self, conf: cfg.ConfigOpts, cloud: Cloud | None = None) -> None:
        self.conf = conf
        self.host = conf.host
        self.cloud = cloud or get_cloud()
        self._slots = threading.BoundedSemaphore(conf.max_concurrent_jobs)
        self._searches = threading.BoundedSemaphore(MAX_FILE_SEARCHES)
        self._cleaning = threading.Lock()

    def init_host(self) -> None:
        """Jobs this host ran before it stopped cannot be continued: resolve them as error."""
        count = db.jobs_fail_on_hosts(
            [self.host], f"The workloads worker on {self.host} restarted during the job."
        )
        if count:
            LOG.warning("Marked %d job(s) interrupted by the restart of %s as error", count, self.host)
        slots = transfer_slots_api.release_worker(self.host)
        if slots:
            LOG.warning("Released %d transfer slot(s) held before the restart of %s", slots, self.host)
        searches = file_search.fail_interrupted(self.host)
        if searches:
            LOG.warning(
                "Marked %d file search(es) interrupted by the restart of %s as error", searches, self.host
            )
        # Its restores just failed: what they created is removed now, not at the first periodic pass, and
        # in a thread of its own (servers take a while to go) so the worker takes jobs meanwhile.
        restore_resources_api.release(self.host)
        threading.Thread(target=self.undo_orphaned_restores, name="restore-cleanup", daemon=True).start()

    def periodic_tasks(self) -> list[tuple[float, Any]]:
        return [(float(self.conf.report_interval), self.undo_orphaned_restores)]

    def undo_orphaned_restores(self) -> None:
        """Remove what restores whose worker died had created (see t4o.workloads.restore_cleanup)."""
        with self._cleaning:  # the start-up pass and the periodic one do not run at once
            count = restore_cleanup.undo_orphaned(self.host)
        if count:
            LOG.info("Cleaned up after %d restore(s) that ended without their worker", count)

    def delete_from_target(
        self, ctxt: RequestContext, workload_id: str, snapshot_ids: list[str], whole_workload: bool
    ) -> dict[str, Any]:
        """RPC call of the API's deletes: this worker opens the backup target as its snapshots do."""
        return target_cleanup.run_delete(
            lambda: target_cleanup.workload_target(workload_id), workload_id, snapshot_ids, whole_workload
        )

    def run_file_search(self, ctxt: RequestContext, search_id: str) -> None:
        """RPC cast of the API's file searches: run in a thread of its own, so that a long search
        takes no RPC thread and no job slot (snapshots and restores go on meanwhile)."""
        thread = threading.Thread(
            target=self._file_search, args=(search_id,), name=f"file-search-{search_id[:8]}", daemon=True
        )
        thread.start()

    def _file_search(self, search_id: str) -> None:
        with self._searches:
            try:
                file_search.run(search_id, self.host)
            except Exception:  # the search's own errors are recorded by run; this is the database gone
                LOG.exception("file search %s failed", search_id)

    def run_job(self, ctxt: RequestContext, kind: str, job_id: str) -> None:
        if kind not in workflows.KINDS:
            LOG.error("Ignoring a job of unknown kind %s (%s)", kind, job_id)
            return
        if not self._take_slot(kind, job_id):
            return
        try:
            self._run(ctxt, kind, job_id)
        finally:
            self._slots.release()

    def _take_slot(self, kind: str, job_id: str) -> bool:
        """Waits for a free job slot, telling the database every heartbeat interval that this worker
        holds the job (the scheduler fails queued jobs nobody holds); False when the job left the
        queue meanwhile (cancelled, or failed as stranded)."""
        while not self._slots.acquire(timeout=float(self.conf.report_interval)):
            if not db.job_waiting(kind, job_id, self.host, f"Waiting for a free job slot on {self.host}"):
                LOG.info("%s %s left the queue while it waited for a slot on %s", kind, job_id, self.host)
                return False
        return True

    def _run(self, ctxt: RequestContext, kind: str, job_id: str) -> None:
        if not db.job_claim(kind, job_id, self.host):
            LOG.info("%s %s was cancelled or resolved before it started", kind, job_id)
            return
        LOG.info("%s %s started on %s", kind, job_id, self.host)
        payload = self._payload(kind, job_id)
        notify.emit(self.conf, ctxt, kind, "start", payload)
        self._audit(ctxt, kind, "start", payload, states.EXECUTING)
        job = workflows.Job(kind=kind, id=job_id, context=ctxt, cloud=self.cloud, host=self.host)
        try:
            result: dict[str, Any] = workflows.get(kind)(job) or {}
        except workflows.JobCancelled:
            db.job_finish(kind, job_id, states.CANCELLED, progress_msg="Cancelled")
            LOG.info("%s %s cancelled", kind, job_id)
            notify.emit(self.conf, ctxt, kind, "end", {**payload, "status": states.CANCELLED})
            self._audit(ctxt, kind, "end", payload, states.CANCELLED)
            return
        except workflows.JobResolved as exc:
            LOG.info("%s %s dropped: %s", kind, job_id, exc)
            return
        except Exception as exc:
            LOG.exception("%s %s failed", kind, job_id)
            message = str(exc) or type(exc).__name__
            db.job_finish(kind, job_id, states.ERROR, error_msg=message)
            error = {**payload, "status": states.ERROR, "error_msg": message}
            # A scheduled snapshot's failure is mailed by workloadmgr-cron once its retries are spent.
            mail = None if getattr(ctxt, "scheduled", False) else self._smtp(payload)
            notify.emit(self.conf, ctxt, kind, "error", error, mail)
            self._audit(ctxt, kind, "end", payload, states.ERROR, message)
            return
        if db.job_finish(kind, job_id, states.AVAILABLE, **result):
            LOG.info("%s %s completed", kind, job_id)
            if kind == "restore":
                self._forget_created(job_id)
            notify.emit(self.conf, ctxt, kind, "end", {**payload, "status": states.AVAILABLE})
            self._audit(ctxt, kind, "end", payload, states.AVAILABLE)
        else:
            LOG.info("%s %s was resolved elsewhere before it completed", kind, job_id)

    @staticmethod
    def _forget_created(restore_id: str) -> None:
        """What the restore created is the user's now (a failed restore's ledger forgot it after undoing
        it); should this fail, any worker forgets it later."""
        try:
            restore_resources_api.forget(restore_id)
        except Exception:
            LOG.exception("Could not forget what restore %s created", restore_id)

    @staticmethod
    def _audit(
        ctxt: RequestContext, kind: str, phase: str, payload: dict[str, Any], result: str, message: str = ""
    ) -> None:
        """The job's start or end in the audit log; a failed write is logged, never fails the job."""
        try:
            audit_api.record(
                kind="job",
                action=f"{kind}.{phase}",
                object_type=kind,
                object_id=payload["job_id"],
                result=result,
                message=message or None,
                user_id=ctxt.user_id or "",
                project_id=payload.get("project_id") or ctxt.project_id or "",
                request_id=ctxt.request_id,
            )
        except Exception:
            LOG.exception("Could not write the audit entry of %s %s %s", kind, payload["job_id"], phase)

    def _payload(self, kind: str, job_id: str) -> dict[str, Any]:
        """What a job's notifications name: the job, its workload and project, and this host."""
        payload: dict[str, Any] = {f"{kind}_id": job_id, "job_id": job_id, "host": self.host}
        try:
            row = db.snapshot_get(job_id, None) if kind == "snapshot" else db.restore_get(job_id, None)
            payload.update(workload_id=row.workload_id, project_id=row.project_id, name=row.name)
        except Exception:  # a notification must never stop the job it reports
            LOG.exception("Could not read %s %s for its notification", kind, job_id)
        return payload

    @staticmethod
    def _smtp(payload: dict[str, Any]) -> dict[str, str] | None:
        try:
            return notify.smtp_settings(db.setting_list(payload.get("project_id") or ""))
        except Exception:
            LOG.exception("Could not read the SMTP settings of project %s", payload.get("project_id"))
            return None
