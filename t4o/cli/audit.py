"""``openstack workload auditlog list`` (Trilio's ``workload-get-auditlog``): the audit log (admin)."""

from __future__ import annotations

import argparse
from typing import Any

from t4o.cli import base
from t4o.client import Client

FIELDS = ("timestamp", "user_id", "project_id", "action", "object_type", "object_id", "result", "message")
HEADERS = ("Timestamp", "User ID", "Project ID", "Action", "Object Type", "Object ID", "Result", "Details")


class ListAuditLog(base.Lister):
    """List the mutating API calls and the job starts and ends of every project, newest first (admin)"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--time_in_minutes",
            "--time-in-minutes",
            dest="time_in_minutes",
            type=int,
            metavar="<minutes>",
            help="How far back to look (default: 1440, one day)",
        )
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        return base.rows(client.audit_log.list(args.time_in_minutes), FIELDS, HEADERS)
