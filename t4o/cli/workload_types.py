"""``openstack workload type list|show``."""

from __future__ import annotations

import argparse
from typing import Any

from t4o.cli import base
from t4o.client import Client


class ListWorkloadType(base.Lister):
    """List workload types"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        base.add_paging_options(parser, "workload types")
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        types = client.workload_types.list(**base.paging(args))
        return base.rows(types, ("id", "name", "description"), ("ID", "Name", "Description"))


class ShowWorkloadType(base.ShowOne):
    """Show a workload type"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("workload_type", metavar="<workload-type>", help="Workload type (name or ID)")
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        return base.show(client.workload_types.find(args.workload_type))
