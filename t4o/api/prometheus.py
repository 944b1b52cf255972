"""``GET /metrics``: the service's state in the Prometheus text format, read from the database per scrape.

A custom collector (prometheus_client) runs a handful of aggregate queries (t4o.db.metrics_api) each
time Prometheus scrapes, so every API process answers the same and no state is kept between scrapes.
Ages are measured against the API's clock. The metrics are listed in docs/operations.md ("Metrics").
"""

from __future__ import annotations

import bisect
import datetime as dt
import time
from collections.abc import Iterable, Iterator, Sequence

import flask
from oslo_config import cfg
from prometheus_client import CollectorRegistry, exposition
from prometheus_client.metrics_core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from t4o.common import policy
from t4o.db import api as db
from t4o.db import metrics_api, policy_api, states
from t4o.db import transfer_slots_api as slots_api
from t4o.db.models import utcnow
from t4o.policies import rpo
from t4o.workloads.flows import config as flows_config
from t4o.workloads.flows.transfer_slots import configured_limits

PATH = "/metrics"

# Statuses every job kind reports, zero when none is in them, so that dashboards see 0, not "no data".
JOB_STATUSES = (*states.JOB_RUNNING, *states.JOB_FINISHED)
DURATION_BUCKETS = tuple(
    float(s) for s in (30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 86400)
)
_MIB, _GIB, _TIB = 2**20, 2**30, 2**40
BYTE_BUCKETS = tuple(
    float(b) for b in (_MIB, 16 * _MIB, 256 * _MIB, _GIB, 4 * _GIB, 16 * _GIB, 64 * _GIB, 256 * _GIB, _TIB)
)


def _histogram(
    family: HistogramMetricFamily, labels: list[str], values: Sequence[float], bounds: Sequence[float]
) -> None:
    counts = [0] * (len(bounds) + 1)
    for v in values:
        counts[bisect.bisect_left(bounds, v)] += 1  # le: a value equal to a bound falls in its bucket
    cumulative, buckets = 0, []
    for bound, count in zip([*bounds, float("inf")], counts, strict=True):
        cumulative += count
        buckets.append(("+Inf" if bound == float("inf") else repr(bound), float(cumulative)))
    family.add_metric(labels, buckets, float(sum(values)))


class T4OCollector(Collector):
    """Collects every t4o_* metric from the database at scrape time."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.conf = conf

    def collect(self) -> Iterable[Metric]:
        started = time.monotonic()
        now = utcnow()
        yield from self._workloads()
        yield from self._jobs(now)
        yield from self._windowed_jobs(now)
        yield from self._transfer_slots(now)
        yield from self._services(now)
        yield from self._storage()
        yield from self._recovery_points(now)
        took = GaugeMetricFamily(
            "t4o_metrics_collect_seconds", "Seconds this scrape spent reading the database for the metrics."
        )
        took.add_metric([], time.monotonic() - started)
        yield took

    @staticmethod
    def _workloads() -> Iterator[Metric]:
        fam = GaugeMetricFamily("t4o_workloads", "Workloads (not deleted) by status.", labels=["status"])
        counts = metrics_api.workload_counts()
        for status in sorted({states.AVAILABLE, states.LOCKED, states.ERROR, *counts}):
            fam.add_metric([status], counts.get(status, 0))
        yield fam

    @staticmethod
    def _jobs(now: dt.datetime) -> Iterator[Metric]:
        jobs = GaugeMetricFamily(
            "t4o_jobs",
            "Jobs (snapshots and restores, not deleted) by kind and status.",
            labels=["kind", "status"],
        )
        rows = metrics_api.job_counts()
        counts = {(k, s): n for k, s, n, _ in rows}
        first = {k: oldest for k, s, _, oldest in rows if s == states.QUEUED}
        for kind in metrics_api.JOB_MODELS:
            for status in sorted({*JOB_STATUSES, *(s for k, s in counts if k == kind)}):
                jobs.add_metric([kind, status], counts.get((kind, status), 0))
        yield jobs
        queued = GaugeMetricFamily(
            "t4o_jobs_queued", "Queue depth: jobs accepted and not yet started, by kind.", labels=["kind"]
        )
        oldest = GaugeMetricFamily(
            "t4o_job_queue_oldest_age_seconds",
            "Seconds the oldest queued job of the kind has waited (0 when none waits).",
            labels=["kind"],
        )
        for kind in metrics_api.JOB_MODELS:
            queued.add_metric([kind], counts.get((kind, states.QUEUED), 0))
            since = first.get(kind)
            oldest.add_metric([kind], max(0.0, (now - since).total_seconds()) if since else 0.0)
        yield queued
        yield oldest

    def _windowed_jobs(self, now: dt.datetime) -> Iterator[Metric]:
        hours = int(self.conf.metrics.job_window_hours)
        rows = metrics_api.finished_jobs(now - dt.timedelta(hours=hours))
        window = f"finished in the last {hours} h ([metrics] job_window_hours)"
        durations = HistogramMetricFamily(
            "t4o_job_duration_seconds",
            f"Seconds jobs took (time_taken), of the jobs {window}, by kind and final status.",
            labels=["kind", "status"],
        )
        read = HistogramMetricFamily(
            "t4o_job_read_bytes",
            f"Bytes a job read (snapshot: of the disks captured; restore: restored), of the jobs {window}.",
            labels=["kind"],
        )
        stored = HistogramMetricFamily(
            "t4o_job_stored_bytes",
            f"Bytes a job stored in or read from the backup target (uploaded_size), of the jobs {window}.",
            labels=["kind"],
        )
        for kind in metrics_api.JOB_MODELS:
            mine = [r for r in rows if r[0] == kind]
            for status in states.JOB_FINISHED:
                _histogram(
                    durations, [kind, status], [r[2] for r in mine if r[1] == status], DURATION_BUCKETS
                )
            _histogram(read, [kind], [float(r[3]) for r in mine], BYTE_BUCKETS)
            _histogram(stored, [kind], [float(r[4]) for r in mine], BYTE_BUCKETS)
        yield durations
        yield read
        yield stored

    def _transfer_slots(self, now: dt.datetime) -> Iterator[Metric]:
        # The limits as this process's config sets them: the workers' [workflows] section (one t4o.conf).
        flows_config.ensure_registered(self.conf)
        rows = slots_api.queue(configured_limits(self.conf), now)
        waiting = GaugeMetricFamily(
            "t4o_transfer_slots_waiting",
            "Queue depth of the transfer slots: VM transfers waiting for one, by job kind and by what they "
            "wait for (limited_by: host, target or total, the first of [workflows] max_transfers_per_host, "
            "_per_target, _total that is full for it; none: the next grant pass serves it).",
            labels=["kind", "limited_by"],
        )
        running = GaugeMetricFamily(
            "t4o_transfer_slots_running",
            "VM transfers holding a transfer slot, by job kind.",
            labels=["kind"],
        )
        oldest = GaugeMetricFamily(
            "t4o_transfer_slot_wait_oldest_seconds",
            "Seconds the longest-waiting VM transfer of the kind has waited for a slot (0 when none waits).",
            labels=["kind"],
        )
        for kind in metrics_api.JOB_MODELS:
            mine = [r for r in rows if r.job_kind == kind]
            queued = [r for r in mine if r.state == slots_api.WAITING]
            for limit in slots_api.LIMITED_BY:
                waiting.add_metric([kind, limit], sum(1 for r in queued if r.limited_by == limit))
            running.add_metric([kind], sum(1 for r in mine if r.state == slots_api.RUNNING))
            first = min((r.requested_at for r in queued), default=None)
            oldest.add_metric([kind], max(0.0, (now - first).total_seconds()) if first else 0.0)
        yield waiting
        yield running
        yield oldest

    def _services(self, now: dt.datetime) -> Iterator[Metric]:
        labels = ["binary", "host"]
        age = GaugeMetricFamily(
            "t4o_service_heartbeat_age_seconds",
            "Seconds since the service (API workers excepted: scheduler, workloads, cron, datamover agents) "
            "last reported.",
            labels=labels,
        )
        up = GaugeMetricFamily(
            "t4o_service_up",
            "1 when the service reported within service_down_time seconds, else 0.",
            labels=labels,
        )
        disabled = GaugeMetricFamily(
            "t4o_service_disabled", "1 when an administrator disabled the service's node.", labels=labels
        )
        down_after = float(self.conf.service_down_time)
        for svc in db.service_list():
            seconds = max(0.0, (now - svc.updated_at).total_seconds())
            age.add_metric([svc.binary, svc.host], seconds)
            up.add_metric([svc.binary, svc.host], 1.0 if seconds <= down_after else 0.0)
            disabled.add_metric([svc.binary, svc.host], 1.0 if svc.disabled else 0.0)
        yield age
        yield up
        yield disabled

    @staticmethod
    def _storage() -> Iterator[Metric]:
        labels = ["project_id"]
        count = GaugeMetricFamily(
            "t4o_project_snapshots", "Snapshots (not deleted) of the project.", labels=labels
        )
        captured = GaugeMetricFamily(
            "t4o_project_snapshot_bytes",
            "Bytes of the disks the project's snapshots (not deleted) captured.",
            labels=labels,
        )
        stored = GaugeMetricFamily(
            "t4o_project_stored_bytes",
            "Backup target usage: bytes the project's snapshots (not deleted) stored, as the database "
            "records them (the Storage quota's usage).",
            labels=labels,
        )
        for row in policy_api.storage_per_project():
            count.add_metric([row["project_id"]], row["snapshots"])
            captured.add_metric([row["project_id"]], row["bytes"])
            stored.add_metric([row["project_id"]], row["stored_bytes"])
        yield count
        yield captured
        yield stored

    @staticmethod
    def _recovery_points(now: dt.datetime) -> Iterator[Metric]:
        labels = ["workload_id", "project_id"]
        age = GaugeMetricFamily(
            "t4o_workload_last_snapshot_age_seconds",
            "Seconds since the creation of the workload's newest available snapshot (workloads without one "
            "have no sample).",
            labels=labels,
        )
        objective = GaugeMetricFamily(
            "t4o_workload_rpo_seconds",
            "The workload's recovery point objective (jobschedule rpo_hours) in seconds.",
            labels=labels,
        )
        breached = GaugeMetricFamily(
            "t4o_workload_rpo_breached",
            "1 when the workload's newest available snapshot (or, without one, the workload) is older than "
            "its RPO, else 0; only workloads with an RPO.",
            labels=labels,
        )
        for row in metrics_api.recovery_points():
            if row["status"] == states.DELETING:
                continue
            state = rpo.evaluate(
                row["jobschedule"], row["created_at"], row["last_snapshot_at"], now, row["id"]
            )
            key = [row["id"], row["project_id"]]
            if state.age_seconds is not None:
                age.add_metric(key, max(0.0, state.age_seconds))
            if state.rpo_hours is not None:
                objective.add_metric(key, state.rpo_hours * 3600.0)
                breached.add_metric(key, 1.0 if state.breached else 0.0)
        yield age
        yield objective
        yield breached


def registry(conf: cfg.ConfigOpts) -> CollectorRegistry:
    # auto_describe off: registering must not already query the database.
    reg = CollectorRegistry(auto_describe=False)
    reg.register(T4OCollector(conf))
    return reg


def response(conf: cfg.ConfigOpts, reg: CollectorRegistry) -> flask.Response:
    """The scrape's answer, in the format the Accept header asks for (Prometheus text or OpenMetrics);
    with ``[metrics] require_auth`` only for callers the rule metrics:get allows."""
    if conf.metrics.require_auth:
        policy.authorize(flask.g.context, "metrics:get")
    encoder, content_type = exposition.choose_encoder(flask.request.headers.get("Accept", ""))
    return flask.Response(encoder(reg), status=200, headers={"Content-Type": content_type})
