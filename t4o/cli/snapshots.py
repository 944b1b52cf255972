"""``openstack workload snapshot list|show|delete|cancel``."""

from __future__ import annotations

import argparse
from typing import Any

from t4o.cli import base, hooks
from t4o.cli.workloads import find_workload
from t4o.client import Client

LIST_FIELDS = ("id", "name", "workload_id", "snapshot_type", "status", "progress_percent", "created_at")
LIST_HEADERS = ("ID", "Name", "Workload ID", "Type", "Status", "Progress", "Created At")


def add_snapshot_arg(parser: argparse.ArgumentParser, many: bool = False) -> None:
    parser.add_argument(
        "snapshots" if many else "snapshot",
        metavar="<snapshot>",
        nargs="+" if many else None,
        help="Snapshot" + ("(s)" if many else "") + " (ID, or name when unique)",
    )


class ListSnapshot(base.Lister):
    """List snapshots"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--workload",
            "--workload_id",
            dest="workload",
            metavar="<workload>",
            help="Only the snapshots of this workload (name or ID)",
        )
        parser.add_argument(
            "--status",
            metavar="<status>",
            help="Only snapshots in this status (queued, executing, available, error, cancelled)",
        )
        parser.add_argument(
            "--date-from",
            "--date_from",
            dest="date_from",
            metavar="<date-time>",
            help="Only snapshots created at or after this ISO 8601 time",
        )
        parser.add_argument(
            "--date-to",
            "--date_to",
            dest="date_to",
            metavar="<date-time>",
            help="Only snapshots created at or before this ISO 8601 time",
        )
        parser.add_argument(
            "--all-projects",
            "--all",
            dest="all_projects",
            action="store_true",
            help="List the snapshots of every project (admin only)",
        )
        base.add_paging_options(parser, "snapshots")
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        workload_id = find_workload(client, args.workload).id if args.workload else None
        snaps = client.snapshots.list(
            workload_id=workload_id,
            status=args.status,
            date_from=args.date_from,
            date_to=args.date_to,
            all_projects=args.all_projects,
            **base.paging(args),
        )
        return base.rows(snaps, LIST_FIELDS, LIST_HEADERS)


class ShowSnapshot(base.ShowOne):
    """Show a snapshot: status, progress, sizes, its VMs and what their guest hooks did"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_snapshot_arg(parser)
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        snap = client.snapshots.find(args.snapshot)
        return base.show({**snap, "guest_hooks": hooks.HooksColumn(snap.vm_hooks())})


class DeleteSnapshot(base.Command):
    """Delete one or more snapshots"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_snapshot_arg(parser, many=True)
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        base.act_on_each(
            args.snapshots,
            "snapshot",
            lambda name: client.snapshots.delete(client.snapshots.find(name).id),
        )


class CancelSnapshot(base.ShowOne):
    """Cancel a running snapshot"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_snapshot_arg(parser)
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        return base.show(
            client.snapshots.cancel(client.snapshots.find(args.snapshot).id), hidden=("instances",)
        )
