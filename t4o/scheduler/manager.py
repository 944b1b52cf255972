"""The scheduler's RPC endpoint: places each job on a live workloads worker (by heartbeat and load)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import oslo_messaging as messaging
from oslo_config import cfg

from t4o.common.context import RequestContext
from t4o.common.log import get_logger
from t4o.db import api as db
from t4o.db import states
from t4o.db.models import utcnow
from t4o.workloads import rpcapi as workloads_rpcapi

LOG = get_logger(__name__)


class SchedulerManager:
    target = messaging.Target(version="1.0")

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.conf = conf

    def pick_host(self) -> str | None:
        live, _dead = db.services_alive(self.conf.workloads_topic, self.conf.service_down_time)
        if not live:
            return None
        load = db.running_jobs_per_host([s.host for s in live])
        return min(live, key=lambda s: (load.get(s.host, 0), s.host)).host

    def schedule_job(self, ctxt: RequestContext, kind: str, job_id: str) -> None:
        host = self.pick_host()
        if host is None:
            db.job_finish(
                kind, job_id, states.ERROR, error_msg="No live, enabled workloads worker to run the job."
            )
            LOG.error("No live, enabled workloads worker for %s %s", kind, job_id)
            return
        if not db.job_set_host(kind, job_id, host):
            LOG.info("%s %s was cancelled or resolved before it was placed", kind, job_id)
            return
        LOG.info("%s %s placed on %s", kind, job_id, host)
        workloads_rpcapi.run_job(ctxt, host, kind, job_id)

    def reap_dead_workers(self) -> None:
        """Jobs running on a worker without a heartbeat for service_down_time end in error.

        Only the heartbeat counts: a disabled worker takes no new jobs but finishes those it runs.
        """
        _live, down = db.services_alive(self.conf.workloads_topic, self.conf.service_down_time)
        cutoff = utcnow() - dt.timedelta(seconds=self.conf.service_down_time)
        count = 0
        for host in sorted({s.host for s in down if s.updated_at < cutoff}):
            # the host in the message: with several workers, the operator looks at that one's log
            count += db.jobs_fail_on_hosts(
                [host], f"The workloads worker on {host} (workloadmgr-workloads) stopped sending heartbeats."
            )
        if count:
            LOG.warning("Marked %d job(s) of dead workers as error", count)

    def fail_stranded_jobs(self) -> int:
        """Jobs queued for ``queued_job_timeout`` with no placement, take or hold since: their RPC
        message was lost (a scheduler or worker stopped after taking it). The user's request context
        went with the message, so the job cannot be placed again: it ends in error, naming the service
        that lost it, and its workload is unlocked for the next request."""
        timeout = max(self.conf.queued_job_timeout, 2 * self.conf.report_interval)
        cutoff = utcnow() - dt.timedelta(seconds=timeout)
        live, _dead = db.services_alive(self.conf.workloads_topic, self.conf.service_down_time)
        alive = {s.host for s in live}
        count = 0
        for kind, job_id, host in db.jobs_queued_before(cutoff):
            if host is None:
                reason = (
                    f"No scheduler placed the {kind} within {timeout} s: workloadmgr-scheduler stopped "
                    "or lost its request. Run it again."
                )
            elif host not in alive:
                reason = f"The workloads worker on {host} stopped before it started the {kind}. Run it again."
            else:
                reason = (
                    f"The workloads worker on {host} never took the {kind} within {timeout} s (it "
                    "restarted or lost the request). Run it again."
                )
            if db.job_fail_queued(kind, job_id, cutoff, reason):
                count += 1
                LOG.error("%s %s failed while queued: %s", kind, job_id, reason)
        return count

    def periodic_tasks(self) -> list[tuple[float, Any]]:
        interval = float(self.conf.report_interval)
        return [(interval, self.reap_dead_workers), (interval, self.fail_stranded_jobs)]
