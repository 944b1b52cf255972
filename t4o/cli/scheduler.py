"""``openstack workload scheduler show|enable|disable``: the global job scheduler (admin)."""

from __future__ import annotations

import argparse
from typing import Any

from t4o.cli import base
from t4o.client import Client

COLUMNS = ("global_job_scheduler",)


class ShowScheduler(base.ShowOne):
    """Show whether scheduled snapshots run (the global job scheduler)"""

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        return COLUMNS, (client.global_job_scheduler.get(),)


class EnableScheduler(base.ShowOne):
    """Enable the global job scheduler: scheduled snapshots run (admin)"""

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        return COLUMNS, (client.global_job_scheduler.enable(),)


class DisableScheduler(base.ShowOne):
    """Disable the global job scheduler: no scheduled snapshot runs (admin)"""

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        return COLUMNS, (client.global_job_scheduler.disable(),)
