"""``openstack workload node list|show|enable|disable``: the service nodes (admin)."""

from __future__ import annotations

import argparse
from typing import Any

from t4o.cli import base
from t4o.client import Client

LIST_FIELDS = ("host", "binary", "state", "disabled", "last_heartbeat")
LIST_HEADERS = ("Host", "Binary", "State", "Disabled", "Last Heartbeat")


def add_host_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("host", metavar="<host>", help="Host name of the node, as `node list` shows it")


class ListNode(base.Lister):
    """List the T4O services that report heartbeats, by host: up or down, enabled or disabled (admin)"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--host", metavar="<host>", help="Only the services of this host")
        parser.add_argument(
            "--binary", metavar="<binary>", help="Only this service, e.g. workloadmgr-workloads"
        )
        base.add_paging_options(parser, "nodes")
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        nodes = [
            n
            for n in client.nodes.list(**base.paging(args))
            if (args.host is None or n.host == args.host) and (args.binary is None or n.binary == args.binary)
        ]
        return base.rows(nodes, LIST_FIELDS, LIST_HEADERS)


class ShowNode(base.ShowOne):
    """Show the workloads service of a node: state, whether it takes new jobs, last heartbeat (admin)"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_host_arg(parser)
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        return base.show(client.nodes.get(args.host))


class EnableNode(base.ShowOne):
    """Enable a workloads node: the scheduler places new jobs on it again (admin)"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_host_arg(parser)
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        return base.show(client.nodes.enable(args.host))


class DisableNode(base.ShowOne):
    """Disable a workloads node: it takes no new job and finishes those it runs (admin)"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_host_arg(parser)
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        return base.show(client.nodes.disable(args.host))
