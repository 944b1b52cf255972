"""The cloud-wide switch of scheduled snapshots: when off, workloadmgr-cron fires no schedule."""

from __future__ import annotations

from t4o.db import api as db

FLAG = "global_job_scheduler"


def enabled() -> bool:
    return db.flag_get(FLAG, "true") == "true"


def set_enabled(value: bool) -> None:
    db.flag_set(FLAG, "true" if value else "false")
