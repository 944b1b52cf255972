"""Console script ``workloadmgr-scheduler``: places queued jobs on live workloads workers."""

from __future__ import annotations

from t4o.cmd import services
from t4o.common.config import CONF
from t4o.common.service import Service
from t4o.scheduler.manager import SchedulerManager

BINARY = "workloadmgr-scheduler"


def build() -> Service:
    return services.service(BINARY, CONF.scheduler_topic, SchedulerManager(CONF))


def main() -> None:
    services.run(BINARY, build)
