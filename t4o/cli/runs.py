"""``openstack workload run list WORKLOAD``: what the cron service did with each scheduled run."""

from __future__ import annotations

import argparse
from typing import Any

from t4o.cli import base
from t4o.cli.workloads import add_workload_arg, find_workload
from t4o.client import Client

FIELDS = ("id", "scheduled_time", "status", "snapshot_id", "snapshot_type", "host", "message")
HEADERS = ("ID", "Scheduled Time", "Status", "Snapshot ID", "Snapshot Type", "Host", "Message")


class ListScheduledRun(base.Lister):
    """List the scheduled runs of a workload: when each was due, the snapshot it took or why it did not"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_workload_arg(parser)
        base.add_paging_options(parser, "runs")
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        runs = client.workloads.scheduled_runs(find_workload(client, args.workload).id, **base.paging(args))
        return base.rows(runs, FIELDS, HEADERS)
