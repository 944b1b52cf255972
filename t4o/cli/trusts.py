"""``openstack workload trust create|list|show|delete`` (Trilio's ``trust-create|-list|-show|-delete``)."""

from __future__ import annotations

import argparse
from typing import Any

from t4o.cli import base
from t4o.client import Client

LIST_FIELDS = ("name", "value", "user_id", "role_name", "is_cloud_trust", "created_at")
LIST_HEADERS = ("Name", "Trust ID", "User ID", "Role", "Cloud Trust", "Created At")


def _row(trust: dict[str, Any]) -> dict[str, Any]:
    meta = trust.get("metadata") or {}
    return {**trust, "role_name": meta.get("role_name", ""), "is_cloud_trust": meta.get("is_cloud_trust", "")}


class CreateTrust(base.ShowOne):
    """Delegate your role in this project to T4O's service user, for scheduled jobs (replaces your trust)"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "role_name",
            nargs="?",
            metavar="<role_name>",
            help="Role to delegate (default: the role T4O is configured to ask for)",
        )
        parser.add_argument(
            "--is_cloud_trust",
            "--is-cloud-trust",
            dest="is_cloud_trust",
            type=base.boolean,
            default=False,
            metavar="<true|false>",
            help="The cloud administrator's trust (admin only; default false)",
        )
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        return base.show(client.trusts.create(args.role_name, args.is_cloud_trust))


class ListTrust(base.Lister):
    """List the trusts the users of this project gave T4O"""

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        return base.rows([_row(t) for t in client.trusts.list()], LIST_FIELDS, LIST_HEADERS)


class ShowTrust(base.ShowOne):
    """Show a trust"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("name", metavar="<name>", help="Name of the trust, as `trust list` shows it")
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        return base.show(client.trusts.get(args.name))


class DeleteTrust(base.Command):
    """Revoke trusts in Keystone and forget them (scheduled jobs of their owners stop until a new trust)"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("names", nargs="+", metavar="<name>", help="Name(s) of the trust(s)")
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        base.act_on_each(args.names, "trust", client.trusts.delete)
