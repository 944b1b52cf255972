"""``openstack workload policy list|show|create|set|delete|assign|unassign``: workload policies (admin)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from t4o.cli import base
from t4o.cli.workloads import schedule_value
from t4o.client import Client

LIST_FIELDS = ("id", "name", "display_description", "field_values", "created_at")
LIST_HEADERS = ("ID", "Name", "Description", "Field Values", "Created At")


def field_value(key: str, value: str) -> Any:
    """A policy field's value: JSON for the calendar tiers (``hourly={"interval": 4, ...}``), numbers
    for the counts, text otherwise."""
    if value.lstrip().startswith(("{", "[")):
        try:
            return json.loads(value)
        except json.JSONDecodeError as err:
            raise ValueError(f"The value of policy field {key} is not valid JSON: {err.msg}.") from err
    return schedule_value(key, value)


def field_values(pairs: list[tuple[str, str]] | None) -> dict[str, Any] | None:
    return {k: field_value(k, v) for k, v in pairs} if pairs else None


def add_policy_arg(parser: argparse.ArgumentParser, many: bool = False) -> None:
    parser.add_argument(
        "policies" if many else "policy",
        metavar="<policy>",
        nargs="+" if many else None,
        help="Workload polic" + ("ies" if many else "y") + " (name or ID)",
    )


def add_policy_fields(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--field",
        "--policy-fields",
        dest="fields",
        action="append",
        type=base.key_value,
        metavar="<key=value>",
        help="Schedule field the policy fixes, repeatable: interval='24 hr', retention_policy_type="
        "'Number of Snapshots to Keep' or 'Number of days to retain Snapshots', retention_policy_value, "
        "fullbackup_interval (-1 never, 0 always, N every N snapshots); or a calendar tier as JSON, e.g. "
        'hourly=\'{"interval": 4, "retention": 6}\'; or backup_target_id=<target ID>, where new '
        "workloads that follow the policy are stored (kept by `set` unless given)",
    )
    parser.add_argument(
        "--description",
        "--display-description",
        dest="description",
        metavar="<description>",
        help="Policy description",
    )
    parser.add_argument(
        "--metadata",
        action="append",
        type=base.key_value,
        metavar="<key=value>",
        help="Metadata of the policy, repeatable",
    )


def find_policy(client: Client, name_or_id: str) -> Any:
    return client.workload_policies.find(name_or_id)


class ListPolicy(base.Lister):
    """List workload policies (admin: all of them; member: those assigned to the project)"""

    project_options = ("project",)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--project",
            metavar="<project>",
            help="Only the policies assigned to this project, name or ID (admin for another project)",
        )
        base.add_paging_options(parser, "policies", "policy")
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        policies = client.workload_policies.list(project_id=args.project, **base.paging(args))
        return base.rows(policies, LIST_FIELDS, LIST_HEADERS)


class ShowPolicy(base.ShowOne):
    """Show a workload policy: its schedule fields and (admin) the projects it is assigned to"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_policy_arg(parser)
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        return base.show(find_policy(client, args.policy))


class CreatePolicy(base.ShowOne):
    """Create a workload policy: schedule and retention fields that workloads following it must use (admin)"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("name", metavar="<name>", help="Policy name")
        add_policy_fields(parser)
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        fields = field_values(args.fields)
        if not fields:
            raise ValueError("A policy needs its schedule fields: give --field KEY=VALUE (--policy-fields).")
        policy = client.workload_policies.create(
            args.name,
            fields,
            description=args.description,
            metadata=dict(args.metadata) if args.metadata else None,
        )
        return base.show(policy)


class SetPolicy(base.ShowOne):
    """Change a workload policy: name, description, schedule fields (replaced as a whole), metadata (admin)"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_policy_arg(parser)
        parser.add_argument("--name", "--display-name", dest="name", metavar="<name>", help="New name")
        add_policy_fields(parser)
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        changes = {
            "name": args.name,
            "description": args.description,
            "field_values": field_values(args.fields),
            "metadata": dict(args.metadata) if args.metadata else None,
        }
        if all(v is None for v in changes.values()):
            raise ValueError("Nothing to change: give --name, --description, --field or --metadata.")
        policy = find_policy(client, args.policy)
        return base.show(client.workload_policies.update(policy.id, **changes))


class DeletePolicy(base.Command):
    """Delete one or more workload policies that no workload follows (admin)"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_policy_arg(parser, many=True)
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        base.act_on_each(
            args.policies,
            "workload policy",
            lambda name: client.workload_policies.delete(find_policy(client, name).id),
            plural="workload policies",
        )


class AssignPolicy(base.ShowOne):
    """Assign a workload policy to projects, so their workloads can follow it (admin)"""

    project_options = ("add", "remove")

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_policy_arg(parser)
        parser.add_argument(
            "--project",
            "--add-project",
            "--add_project",
            dest="add",
            action="append",
            default=[],
            metavar="<project>",
            help="Project (name or ID) to assign the policy to, repeatable",
        )
        parser.add_argument(
            "--remove-project",
            "--remove_project",
            dest="remove",
            action="append",
            default=[],
            metavar="<project>",
            help="Project (name or ID) to take the policy back from, repeatable",
        )
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        if not args.add and not args.remove:
            raise ValueError("Give the projects: --project (--add_project) or --remove-project.")
        policy = find_policy(client, args.policy)
        return base.show(client.workload_policies.assign(policy.id, args.add, args.remove))


class UnassignPolicy(base.ShowOne):
    """Take a workload policy back from projects (admin)"""

    project_options = ("remove",)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_policy_arg(parser)
        parser.add_argument(
            "--project",
            dest="remove",
            action="append",
            required=True,
            metavar="<project>",
            help="Project (name or ID) to take the policy back from, repeatable",
        )
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        policy = find_policy(client, args.policy)
        return base.show(client.workload_policies.assign(policy.id, remove_projects=args.remove))
