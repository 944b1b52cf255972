"""``openstack workload create|list|show|set|delete|snapshot|unlock|reset|pause|resume``."""

from __future__ import annotations

import argparse
from typing import Any

from t4o.cli import base, jobs
from t4o.client import Client
from t4o.client.base import Resource

LIST_FIELDS = ("id", "name", "status", "workload_type_id", "instances", "created_at")
LIST_HEADERS = ("ID", "Name", "Status", "Workload Type", "Instances", "Created At")
SNAPSHOT_HIDDEN = ("instances",)


def instance_id(text: str) -> str:
    """``ID`` or Trilio's ``instance-id=ID``."""
    key, sep, value = text.partition("=")
    if sep:
        if key != "instance-id" or not value:
            raise argparse.ArgumentTypeError(f"expected SERVER_ID or instance-id=SERVER_ID, got {text!r}")
        return value
    if not text:
        raise argparse.ArgumentTypeError("empty server ID")
    return text


def schedule_value(key: str, value: str) -> Any:
    if key == "enabled":
        return base.boolean(value)
    if key in ("retention_policy_value", "fullbackup_interval") and value.lstrip("-").isdigit():
        return int(value)
    return value


def jobschedule(pairs: list[tuple[str, str]] | None) -> dict[str, Any] | None:
    if not pairs:
        return None
    return {k: schedule_value(k, v) for k, v in pairs}


def find_workload(client: Client, name_or_id: str) -> Resource:
    return client.workloads.find(name_or_id)


def add_workload_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("workload", metavar="<workload>", help="Workload to act on (name or ID)")


def add_details_options(parser: argparse.ArgumentParser, creating: bool) -> None:
    parser.add_argument(
        "--instance",
        action="append",
        type=instance_id,
        default=None,
        metavar="<server-id>",
        required=creating,
        help="Server (VM) to protect, by ID; repeat for each VM"
        + ("" if creating else " (replaces the workload's VMs)")
        + ". Trilio's form instance-id=<server-id> is accepted too.",
    )
    parser.add_argument("--name", "--display-name", dest="name", metavar="<name>", help="Workload name")
    parser.add_argument(
        "--description",
        "--display-description",
        dest="description",
        metavar="<description>",
        help="Workload description",
    )
    parser.add_argument(
        "--jobschedule",
        action="append",
        type=base.key_value,
        metavar="<key=value>",
        help="Scheduling policy field, repeatable: enabled=true|false, start_date=MM/DD/YYYY, "
        "start_time='HH:MM AM', interval='24 hr', timezone, retention_policy_type, retention_policy_value, "
        "fullbackup_interval (-1 never, 0 always, N every N snapshots)",
    )
    parser.add_argument(
        "--metadata",
        action="append",
        type=base.key_value,
        metavar="<key=value>",
        help="Metadata to attach to the workload, repeatable",
    )
    parser.add_argument(
        "--policy",
        metavar="<policy>",
        help="Workload policy to follow (name or ID; assigned to the project): it fixes the interval, "
        "retention and full backup fields of the schedule (sets the metadata policy_id)",
    )


def metadata(client: Client, args: argparse.Namespace) -> dict[str, str] | None:
    """--metadata pairs, plus ``policy_id`` of --policy."""
    meta = dict(args.metadata or [])
    if args.policy:
        meta["policy_id"] = client.workload_policies.find(args.policy).id
    return meta or None


class CreateWorkload(base.ShowOne):
    """Create a workload: a group of VMs protected together"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_details_options(parser, creating=True)
        parser.add_argument(
            "--workload-type",
            "--workload-type-id",
            dest="workload_type",
            metavar="<workload-type>",
            help="Workload type by name or ID: Serial (VMs one after another, the default) or Parallel",
        )
        parser.add_argument(
            "--encryption",
            action="store_true",
            default=None,
            help="Encrypt the workload's backups (needs --secret-uuid)",
        )
        parser.add_argument(
            "--secret-uuid",
            metavar="<secret-uuid>",
            help="Barbican secret holding the encryption key (with --encryption)",
        )
        parser.add_argument(
            "--backup-target-id",
            "--backup_target_id",
            dest="backup_target_id",
            metavar="<backup-target-id>",
            help="Backup target to store the snapshots on (default: the default target); never changes",
        )
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        type_id = client.workload_types.find(args.workload_type).id if args.workload_type else None
        wl = client.workloads.create(
            args.instance,
            name=args.name,
            description=args.description,
            workload_type_id=type_id,
            jobschedule=jobschedule(args.jobschedule),
            metadata=metadata(client, args),
            encryption=args.encryption,
            secret_uuid=args.secret_uuid,
            backup_target_id=args.backup_target_id,
        )
        return base.show(wl)


class ListWorkload(base.Lister):
    """List workloads"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--all-projects",
            "--all",
            dest="all_projects",
            action="store_true",
            help="List the workloads of every project (admin only)",
        )
        base.add_paging_options(parser, "workloads")
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        wls = client.workloads.list(all_projects=args.all_projects, **base.paging(args))
        for wl in wls:
            wl["instances"] = [vm.get("id") for vm in wl.get("instances") or []]
        return base.rows(wls, LIST_FIELDS, LIST_HEADERS)


class ShowWorkload(base.ShowOne):
    """Show a workload, its VMs and its storage usage"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_workload_arg(parser)
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        return base.show(find_workload(client, args.workload))


class SetWorkload(base.ShowOne):
    """Modify a workload: name, description, VMs, schedule, metadata"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_workload_arg(parser)
        add_details_options(parser, creating=False)
        parser.add_argument(
            "--secret-uuid",
            metavar="<secret-uuid>",
            help="An encrypted workload's new Barbican secret: its key is re-wrapped, no data is rewritten",
        )
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        wl = find_workload(client, args.workload)
        changes = {
            "name": args.name,
            "description": args.description,
            "instances": args.instance,
            "jobschedule": jobschedule(args.jobschedule),
            "metadata": metadata(client, args),
            "secret_uuid": args.secret_uuid,
        }
        if all(v is None for v in changes.values()):
            raise ValueError(
                "Nothing to change: give --name, --description, --instance, --jobschedule, --metadata, "
                "--policy or --secret-uuid."
            )
        return base.show(client.workloads.update(wl.id, **changes))


class DeleteWorkload(base.Command):
    """Delete one or more workloads (and their snapshots)"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "workloads", metavar="<workload>", nargs="+", help="Workload(s) to delete (name or ID)"
        )
        parser.add_argument(
            "--database-only",
            "--database_only",
            dest="database_only",
            nargs="?",
            const=True,
            default=False,
            type=base.boolean,
            metavar="<true|false>",
            help="Remove the workload from the database only and keep its backups on the backup target "
            "(they can be imported again)",
        )
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        base.act_on_each(
            args.workloads,
            "workload",
            lambda name: client.workloads.delete(
                find_workload(client, name).id, database_only=args.database_only
            ),
        )


class SnapshotWorkload(base.ShowOne):
    """Take a snapshot of a workload (incremental unless --full)"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_workload_arg(parser)
        parser.add_argument(
            "--full", action="store_true", help="Take a full snapshot instead of an incremental one"
        )
        parser.add_argument("--name", "--display-name", dest="name", metavar="<name>", help="Snapshot name")
        parser.add_argument(
            "--description",
            "--display-description",
            dest="description",
            metavar="<description>",
            help="Snapshot description",
        )
        base.add_wait_options(parser, "snapshot")
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        wl = find_workload(client, args.workload)
        snap = client.workloads.snapshot(wl.id, full=args.full, name=args.name, description=args.description)
        return base.show(jobs.follow(client, "snapshot", snap, args), hidden=SNAPSHOT_HIDDEN)


class _WorkloadAction(base.ShowOne):
    action = ""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_workload_arg(parser)
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        wl = find_workload(client, args.workload)
        return base.show(getattr(client.workloads, self.action)(wl.id))


class UnlockWorkload(_WorkloadAction):
    """Make a locked workload available again when none of its jobs runs"""

    action = "unlock"


class ResetWorkload(_WorkloadAction):
    """Mark the workload's unfinished jobs as failed and make it available"""

    action = "reset"


class PauseWorkload(_WorkloadAction):
    """Pause the workload's schedule (no scheduled snapshots until resumed)"""

    action = "pause"


class ResumeWorkload(_WorkloadAction):
    """Resume the workload's schedule"""

    action = "resume"
