"""Console scripts workloadmgr-scheduler, workloadmgr-workloads and workloadmgr-cron."""

from __future__ import annotations

import sys
from typing import Any

from t4o.cmd import common
from t4o.common.config import CONF


def build(binary: str) -> Any:
    from t4o.common.service import Service

    if binary == "workloadmgr-scheduler":
        from t4o.scheduler.manager import SchedulerManager

        return Service(CONF, binary, CONF.scheduler_topic, [SchedulerManager(CONF)])
    if binary == "workloadmgr-workloads":
        from t4o.workloads.manager import WorkloadsManager

        return Service(CONF, binary, CONF.workloads_topic, [WorkloadsManager(CONF)])
    if binary == "workloadmgr-cron":
        from t4o.cron.manager import CronManager

        return Service(CONF, binary, "workloadmgr-cron", [CronManager(CONF)])
    raise ValueError(binary)


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
