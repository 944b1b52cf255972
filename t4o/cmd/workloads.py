"""Console script ``workloadmgr-workloads``: a worker that runs the snapshot and restore jobs placed on it."""

from __future__ import annotations

from t4o.cmd import services
from t4o.common.config import CONF
from t4o.common.service import Service
from t4o.workloads.manager import WorkloadsManager

BINARY = "workloadmgr-workloads"


def build() -> Service:
    return services.service(BINARY, CONF.workloads_topic, WorkloadsManager(CONF))


def main() -> None:
    services.run(BINARY, build)
