"""Console script ``workloadmgr-cron``: fires the scheduled snapshots and applies retention."""

from __future__ import annotations

from t4o.cmd import services
from t4o.common.config import CONF
from t4o.common.service import Service
from t4o.cron.manager import CronManager

BINARY = "workloadmgr-cron"


def build() -> Service:
    return services.service(BINARY, BINARY, CronManager(CONF))


def main() -> None:
    services.run(BINARY, build)
