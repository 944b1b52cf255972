"""``openstack workload usage list``, ``metrics show``, ``activity list``: cloud-wide figures (admin)."""

from __future__ import annotations

import argparse
from typing import Any

from t4o.cli import base
from t4o.cli.progress import human_bytes
from t4o.client import Client

USAGE_FIELDS = ("project_id", "snapshots", "bytes", "size")
USAGE_HEADERS = ("Project ID", "Snapshots", "Bytes", "Size")
ACTIVITY_FIELDS = ("created_at", "type", "id", "status", "workload_id", "project_id")
ACTIVITY_HEADERS = ("Created At", "Type", "ID", "Status", "Workload ID", "Project ID")


def with_size(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "size": human_bytes(int(row.get("bytes") or 0))}


class ListStorageUsage(base.Lister):
    """List the backup storage each project uses: its snapshots and their bytes, largest first (admin)"""

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        rows = [with_size(r) for r in client.metrics.storage_usage()]
        return base.rows(rows, USAGE_FIELDS, USAGE_HEADERS)


class ShowMetrics(base.ShowOne):
    """Show cloud-wide totals: protected VMs, snapshots, bytes stored, nodes up and down (admin)"""

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        metrics = client.metrics.get(limit=1)
        usage = metrics["storage_usage"]
        nodes = metrics["nodes"]
        stored = sum(int(r.get("bytes") or 0) for r in usage)
        summary = {
            "protected_vms": metrics["protected_vms"],
            "projects_with_snapshots": len(usage),
            "snapshots": sum(int(r.get("snapshots") or 0) for r in usage),
            "stored_bytes": stored,
            "stored": human_bytes(stored),
            "nodes_up": sum(1 for n in nodes if n.get("state") == "up"),
            "nodes_down": sum(1 for n in nodes if n.get("state") != "up"),
            "nodes_disabled": sum(1 for n in nodes if n.get("disabled")),
        }
        return base.show(summary)


class ListActivity(base.Lister):
    """List the newest snapshots and restores of every project, newest first (admin)"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--limit", type=int, default=20, metavar="<count>", help="How many jobs to list (default 20)"
        )
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        return base.rows(client.metrics.recent_activity(args.limit), ACTIVITY_FIELDS, ACTIVITY_HEADERS)
