"""``openstack workload restore create|list|show|delete|cancel`` (oneclick, selective, inplace,
network-topology, security-groups) and ``restore network-topology|security-groups``."""

from __future__ import annotations

import argparse
from typing import Any

from t4o.cli import base, jobs, restore_options
from t4o.client import Client
from t4o.client.restores import RESTORE_TYPES, WITHOUT_VMS

LIST_FIELDS = ("id", "name", "snapshot_id", "restore_type", "status", "progress_percent", "created_at")
LIST_HEADERS = ("ID", "Name", "Snapshot ID", "Type", "Status", "Progress", "Created At")


class CreateRestore(base.ShowOne):
    """Restore from a snapshot: oneclick (everything as it was), selective or inplace"""

    restore_type: str | None = None  # fixed by the Trilio-named variants

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "snapshot", metavar="<snapshot>", help="Snapshot to restore from (ID, or name when unique)"
        )
        if self.restore_type is None:
            parser.add_argument(
                "--type",
                dest="restore_type",
                choices=RESTORE_TYPES,
                default="oneclick",
                help="oneclick: every VM as it was, with new IDs (default); selective: chosen VMs with new "
                "names, networks and flavors (--file or flags); inplace: data written back into the existing "
                "disks of the chosen VMs; network-topology: only the snapshot's networks, subnets, routers "
                "and router interfaces; security-groups: only the snapshot's security groups and rules",
            )
        parser.add_argument("--name", "--display-name", dest="name", metavar="<name>", help="Restore name")
        parser.add_argument(
            "--description",
            "--display-description",
            dest="description",
            metavar="<description>",
            help="Restore description",
        )
        if self.restore_type not in ("oneclick", *WITHOUT_VMS):
            restore_options.add_flags(parser)
        base.add_wait_options(parser, "restore")
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        restore_type = self.restore_type or args.restore_type
        if restore_type in WITHOUT_VMS:
            spec: dict[str, Any] = {"name": args.name, "description": args.description, "options": {}}
        elif restore_type == "oneclick":
            spec = {"name": args.name, "description": args.description, "options": {}}
            if getattr(args, "file", None) or getattr(args, "instances", None):
                spec = restore_options.build(args, restore_type)
        else:
            spec = restore_options.build(args, restore_type)
        snapshot = client.snapshots.find(args.snapshot)
        restore = client.restores.create(
            snapshot.id,
            restore_type,
            name=spec["name"],
            description=spec["description"],
            options=spec["options"],
        )
        return base.show(jobs.follow(client, "restore", restore, args))


class OneclickRestore(CreateRestore):
    """Restore every VM of a snapshot as it was (new IDs)"""

    restore_type = "oneclick"


class SelectiveRestore(CreateRestore):
    """Restore chosen VMs of a snapshot with new names, networks and flavors (--filename or flags)"""

    restore_type = "selective"


class InplaceRestore(CreateRestore):
    """Write a snapshot's data back into the existing disks of chosen VMs (--filename or flags)"""

    restore_type = "inplace"


class NetworkTopologyRestore(CreateRestore):
    """Restore only a snapshot's networks, subnets, routers and router interfaces (no VM): those that
    exist are reused, the missing ones re-created"""

    restore_type = "network-topology"


class SecurityGroupsRestore(CreateRestore):
    """Restore only a snapshot's security groups with their rules (no VM): a group of the same name and
    rules is reused, the others are created"""

    restore_type = "security-groups"


class ListRestore(base.Lister):
    """List restores"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--snapshot",
            "--snapshot_id",
            dest="snapshot",
            metavar="<snapshot>",
            help="Only the restores of this snapshot (ID, or name when unique)",
        )
        base.add_paging_options(parser, "restores")
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        snapshot_id = client.snapshots.find(args.snapshot).id if args.snapshot else None
        restores = client.restores.list(snapshot_id=snapshot_id, **base.paging(args))
        return base.rows(restores, LIST_FIELDS, LIST_HEADERS)


def add_restore_arg(parser: argparse.ArgumentParser, many: bool = False) -> None:
    parser.add_argument(
        "restores" if many else "restore",
        metavar="<restore>",
        nargs="+" if many else None,
        help="Restore" + ("(s)" if many else "") + " (ID, or name when unique)",
    )


class ShowRestore(base.ShowOne):
    """Show a restore: status, progress, options and restored VMs"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_restore_arg(parser)
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        return base.show(client.restores.find(args.restore))


class DeleteRestore(base.Command):
    """Delete the record of one or more finished restores"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_restore_arg(parser, many=True)
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        base.act_on_each(
            args.restores,
            "restore",
            lambda name: client.restores.delete(client.restores.find(name).id),
        )


class CancelRestore(base.ShowOne):
    """Cancel a running restore"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_restore_arg(parser)
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        return base.show(client.restores.cancel(client.restores.find(args.restore).id))
