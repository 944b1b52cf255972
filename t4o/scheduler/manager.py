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
        dead = [s for s in down if s.updated_at < cutoff]
        count = db.jobs_fail_on_hosts(
            [s.host for s in dead], "The workloads worker running the job stopped sending heartbeats."
        )
        if count:
            LOG.warning("Marked %d job(s) of dead workers as error", count)

    def periodic_tasks(self) -> list[tuple[float, Any]]:
        return [(float(self.conf.report_interval), self.reap_dead_workers)]
