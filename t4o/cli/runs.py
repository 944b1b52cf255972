"""``openstack workload run list WORKLOAD`` and ``run show WORKLOAD RUN``: what the cron service did with
each scheduled run, and each attempt of one."""

from __future__ import annotations

import argparse
from typing import Any

from cliff import columns

from t4o.cli import base
from t4o.cli.workloads import add_workload_arg, find_workload
from t4o.client import Client

FIELDS = (
    "id",
    "scheduled_time",
    "status",
    "attempt_count",
    "next_attempt_at",
    "snapshot_id",
    "snapshot_type",
    "host",
    "message",
)
HEADERS = (
    "ID",
    "Scheduled Time",
    "Status",
    "Attempts",
    "Next Attempt",
    "Snapshot ID",
    "Snapshot Type",
    "Host",
    "Message",
)


def attempt_line(a: dict[str, Any]) -> str:
    """One attempt in a line: when it ran, how it ended, and whether (and when) another follows."""
    text = f"#{a.get('attempt')} {a.get('started_at') or '?'}"
    if a.get("ended_at"):
        text += f" to {a['ended_at']}"
    text += f": {a.get('result') or 'running'}"
    if a.get("snapshot_id"):
        text += f" (snapshot {a['snapshot_id']})"
    if a.get("error"):
        text += f": {a['error']}"
    if a.get("will_retry"):
        text += f"; retried at {a.get('next_attempt_at')} ({a.get('retry_reason')})"
    elif a.get("will_retry") is False and a.get("retry_reason"):
        text += f"; not retried: {a['retry_reason']}"
    return text


class AttemptsColumn(columns.FormattableColumn[list[dict[str, Any]]]):
    """A run's attempts: a line each in tables, the list itself in json and yaml."""

    def human_readable(self) -> str:
        return "\n".join(attempt_line(a) for a in self._value or []) or "-"

    def machine_readable(self) -> list[dict[str, Any]]:
        return list(self._value or [])


class ListScheduledRun(base.Lister):
    """List the scheduled runs of a workload: when each was due, its attempts, its snapshot or why not"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_workload_arg(parser)
        base.add_paging_options(parser, "runs")
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        runs = client.workloads.scheduled_runs(find_workload(client, args.workload).id, **base.paging(args))
        return base.rows(runs, FIELDS, HEADERS)


class ShowScheduledRun(base.ShowOne):
    """Show a scheduled run: each attempt (start, end, result, error, retry) or why the run was missed"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_workload_arg(parser)
        parser.add_argument("run", metavar="<run-id>", help="Scheduled run ID (see `workload run list`)")
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        run = client.workloads.scheduled_run(find_workload(client, args.workload).id, args.run)
        keys, values = base.show(run, hidden=("attempts",))
        return (*keys, "attempts"), (*values, AttemptsColumn(run.get("attempts") or []))
