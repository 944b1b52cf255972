"""Console scripts workloadmgr-scheduler, workloadmgr-workloads and workloadmgr-cron."""

from __future__ import annotations

import sys

from t4o.cmd import common
from t4o.common.config import CONF
from t4o.common.service import Service
from t4o.cron.manager import CronManager
from t4o.db import api as db
from t4o.scheduler.manager import SchedulerManager
from t4o.workloads.manager import WorkloadsManager


def build(binary: str) -> Service:
    """The service of ``binary``, recording its heartbeat as a row of the services table."""
    if binary == "workloadmgr-scheduler":
        topic, endpoint = CONF.scheduler_topic, SchedulerManager(CONF)
    elif binary == "workloadmgr-workloads":
        topic, endpoint = CONF.workloads_topic, WorkloadsManager(CONF)
    elif binary == "workloadmgr-cron":
        topic, endpoint = "workloadmgr-cron", CronManager(CONF)
    else:
        raise ValueError(binary)
    return Service(CONF, binary, topic, [endpoint], heartbeat=db.service_heartbeat)


def _run(binary: str) -> None:
    common.setup(sys.argv[1:], binary)
    service = build(binary)
    try:
        service.start()
    except Exception as exc:  # e.g. database or RabbitMQ unreachable: one clear line, not a traceback
        common.fail(f"{binary} could not start: {exc}")
    common.wait_for_signal(service.stop)


def scheduler() -> None:
    _run("workloadmgr-scheduler")


def workloads() -> None:
    _run("workloadmgr-workloads")


def cron() -> None:
    _run("workloadmgr-cron")
