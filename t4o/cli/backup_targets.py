"""``openstack workload backup target create|list|show|set|delete`` (``backup-target-create|-list|-show|
-update|-delete``): where snapshots are stored (admin)."""

from __future__ import annotations

import argparse
from typing import Any

from t4o.cli import base
from t4o.client import Client

LIST_FIELDS = ("id", "name", "type", "url", "is_default", "immutable", "workload_count")
LIST_HEADERS = ("ID", "Name", "Type", "URL", "Default", "Immutable", "Workloads")


def _add_fields(parser: argparse.ArgumentParser, creating: bool) -> None:
    if not creating:
        parser.add_argument("--name", metavar="<name>", help="New name (unique)")
    parser.add_argument(
        "--type",
        required=creating,
        choices=("nfs", "posix", "s3"),
        help="nfs (nfs://server/export), posix (a directory) or s3 (s3://bucket/prefix?endpoint=URL)",
    )
    parser.add_argument("--url", required=creating, metavar="<url>", help="Where the target is")
    parser.add_argument(
        "--default",
        "--is-default",
        dest="is_default",
        type=base.boolean,
        default=None,
        metavar="<true|false>",
        help="The target of new workloads that name none",
    )
    parser.add_argument(
        "--immutable",
        type=base.boolean,
        default=None,
        metavar="<true|false>",
        help="S3 Object Lock: the bucket must have it (s3 only)",
    )
    parser.add_argument("--access-key", metavar="<key>", help="S3 access key (with --secret-key)")
    parser.add_argument("--secret-key", metavar="<key>", help="S3 secret key; stored encrypted, never shown")


def _fields(args: argparse.Namespace) -> dict[str, Any]:
    fields: dict[str, Any] = {"is_default": args.is_default, "immutable": args.immutable}
    if args.access_key or args.secret_key:
        fields["credentials"] = {"access_key": args.access_key or "", "secret_key": args.secret_key or ""}
    return fields


class CreateBackupTarget(base.ShowOne):
    """Define a backup target (admin)"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("name", metavar="<name>", help="Name of the target (unique)")
        _add_fields(parser, creating=True)
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        return base.show(client.backup_targets.create(args.name, args.type, args.url, **_fields(args)))


class ListBackupTarget(base.Lister):
    """List the backup targets (admin; the configured one alone when none is defined)"""

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        return base.rows(client.backup_targets.list(), LIST_FIELDS, LIST_HEADERS)


class ShowBackupTarget(base.ShowOne):
    """Show a backup target (admin)"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("target_id", metavar="<backup-target-id>", help="ID of the target")
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        return base.show(client.backup_targets.get(args.target_id))


class SetBackupTarget(base.ShowOne):
    """Change a backup target; its type and URL only while no workload uses it (admin)"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("target_id", metavar="<backup-target-id>", help="ID of the target")
        _add_fields(parser, creating=False)
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        changes = {"name": args.name, "type": args.type, "url": args.url, **_fields(args)}
        return base.show(client.backup_targets.update(args.target_id, **changes))


class DeleteBackupTarget(base.Command):
    """Delete backup targets no workload uses (admin)"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "target_ids", nargs="+", metavar="<backup-target-id>", help="ID(s) of the target(s)"
        )
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        base.act_on_each(args.target_ids, "backup target", client.backup_targets.delete)
