"""The cron service's endpoint. Policies and retention land in a later change; today it only runs and
reports whether the global job scheduler is enabled."""

from __future__ import annotations

from typing import Any

import oslo_messaging as messaging
from oslo_config import cfg

from t4o.common.log import get_logger
from t4o.db import api as db

LOG = get_logger(__name__)

GLOBAL_SCHEDULER_FLAG = "global_job_scheduler"


def scheduler_enabled() -> bool:
    return db.flag_get(GLOBAL_SCHEDULER_FLAG, "true") == "true"


class CronManager:
    target = messaging.Target(version="1.0")

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.conf = conf

    def tick(self) -> None:
        LOG.debug("cron tick; global job scheduler enabled: %s", scheduler_enabled())

    def periodic_tasks(self) -> list[tuple[float, Any]]:
        return [(60.0, self.tick)]
