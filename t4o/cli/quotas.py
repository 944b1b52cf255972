"""``openstack workload quota list|show|set|delete|reset`` and ``quota type list``: project quotas.

-1 (or ``unlimited``) means no limit; a quota that is not set is unlimited too. Setting and removing
quotas is for admins; members see their own project's quotas and usage.
"""

from __future__ import annotations

import argparse
from typing import Any

from oslo_utils import strutils

from t4o.cli import base
from t4o.client import Client, NotFound
from t4o.client.quotas import AllowedQuota

LIST_FIELDS = ("id", "quota_type_name", "allowed_value", "high_watermark", "usage", "quota_type_id")
LIST_HEADERS = ("ID", "Type", "Allowed", "High Watermark", "Usage", "Type ID")
# `quota set` options -> quota type names (matched case-insensitively with the API's display names)
TYPE_OPTIONS = {"workloads": "Workloads", "snapshots": "Snapshots", "vms": "VMs", "volumes": "Volumes"}


def limit(text: str) -> int:
    """argparse type of a count: a whole number, -1 or ``unlimited``."""
    if text.strip().lower() in ("unlimited", "-1"):
        return -1
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number or 'unlimited', got {text!r}")
    return int(text)


def size(text: str) -> int:
    """argparse type of a storage quota in bytes: ``1099511627776``, ``500G``, ``1.5TiB``, ``unlimited``."""
    raw = text.strip()
    if raw.lower() in ("unlimited", "-1"):
        return -1
    # oslo.utils reads "500GB", "2TiB" or "10B"; people also write 500G, 1.5 m or 10kb.
    normal = "".join(raw.split()).upper().replace("IB", "iB")
    try:
        value = strutils.string_to_bytes(normal if normal.endswith("B") else normal + "B", return_int=True)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"expected bytes, a size like 500G or 2TiB (powers of 1024), or 'unlimited'; got {text!r}"
        )
    return int(value)


def type_limit(text: str) -> tuple[str, int]:
    """argparse type of ``TYPE=N`` (``storage=500G`` takes a size)."""
    key, value = base.key_value(text)
    return key, size(value) if key.lower() == "storage" else limit(value)


def add_project_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--project",
        "--project-id",
        "--project_id",
        dest="project",
        metavar="<project>",
        help="Project (name or ID) whose quotas to use (default: yours; another project needs admin)",
    )


def quota_rows(quotas: list[AllowedQuota]) -> Any:
    return base.rows(quotas, LIST_FIELDS, LIST_HEADERS)


def kept_watermark(current: AllowedQuota | None, allowed: int) -> int | None:
    """The high watermark set apart from the allowed value, kept when only the allowed value changes
    (the API would put it back to the allowed value), as long as it stays within it."""
    if current is None or current.high_watermark == current.allowed_value:
        return None
    if allowed >= 0 and current.high_watermark > allowed:
        return None
    return int(current.high_watermark)


def find_quota_id(client: Client, quota: str, project: str | None) -> str:
    """The ID of a quota of the project given by type name or ID; anything else is taken as an ID
    (an admin may name a quota of any project by its ID)."""
    try:
        return str(client.quotas.find(quota, project).id)
    except NotFound:
        return quota


class ListQuotaType(base.Lister):
    """List the kinds of project quota"""

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        return base.rows(
            client.quota_types.list(),
            ("id", "display_name", "display_description"),
            ("ID", "Name", "Description"),
        )


class ListQuota(base.Lister):
    """List the allowed quotas of a project with their current usage"""

    project_options: tuple[str, ...] = ("project",)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_project_option(parser)
        base.add_paging_options(parser, "quotas")
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        return quota_rows(client.quotas.list(args.project, **base.paging(args)))


class ListProjectQuota(ListQuota):
    """List the allowed quotas of a project with their current usage"""

    project_options = ("project", "project_arg")

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "project_arg", nargs="?", metavar="<project>", help="Project, name or ID (default: yours)"
        )
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        return quota_rows(client.quotas.list(args.project_arg or args.project, **base.paging(args)))


class ShowQuota(base.ShowOne):
    """Show an allowed quota of a project with its current usage"""

    project_options = ("project",)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "quota", metavar="<quota>", help="Quota type (workloads, snapshots, vms, volumes, storage) or ID"
        )
        add_project_option(parser)
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        return base.show(client.quotas.find(args.quota, args.project))


class SetQuota(base.Lister):
    """Set the allowed quotas of a project (admin); shows the project's quotas afterwards"""

    project_options = ("project",)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_project_option(parser)
        for option, name in TYPE_OPTIONS.items():
            parser.add_argument(
                f"--{option}",
                type=limit,
                metavar="<count>",
                help=f"Most {name} the project may have (-1 or 'unlimited': no limit)",
            )
        parser.add_argument(
            "--storage",
            type=size,
            metavar="<size>",
            help="Most bytes the project's snapshots may hold: bytes or a size like 500G, 2TiB (powers of "
            "1024); -1 or 'unlimited': no limit",
        )
        parser.add_argument(
            "--high-watermark",
            dest="watermarks",
            action="append",
            type=type_limit,
            default=[],
            metavar="<type=value>",
            help="Usage at which the project is warned, per quota type (e.g. workloads=8, storage=400G); "
            "at most the allowed value; repeatable",
        )
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        limits = {name: getattr(args, option) for option, name in TYPE_OPTIONS.items()}
        limits["Storage"] = args.storage
        wanted = {k.lower(): v for k, v in limits.items() if v is not None}
        marks = {k.lower(): v for k, v in args.watermarks}
        if not wanted and not marks:
            raise ValueError(
                "Nothing to set: give --workloads, --snapshots, --vms, --volumes, --storage "
                "or --high-watermark."
            )
        current = {str(q.quota_type_name).lower(): q for q in client.quotas.list(args.project)}
        items = []
        for type_name in dict.fromkeys([*wanted, *marks]):
            quota_type = client.quota_types.find(type_name)
            allowed = wanted.get(type_name)
            if allowed is None:
                if type_name not in current:
                    raise ValueError(
                        f"The project has no {quota_type.display_name} quota yet: give its allowed value "
                        f"(--{type_name}) with the high watermark."
                    )
                allowed = current[type_name].allowed_value
            item = {"quota_type_id": quota_type.id, "allowed_value": allowed}
            if type_name in marks:
                item["high_watermark"] = marks[type_name]
            elif (kept := kept_watermark(current.get(type_name), allowed)) is not None:
                item["high_watermark"] = kept
            items.append(item)
        client.quotas.set(items, args.project)
        return quota_rows(client.quotas.list(args.project))


class CreateQuota(base.ShowOne):
    """Set one allowed quota of a project (admin)"""

    project_options = ("project",)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--quota-type-id",
            "--quota_type_id",
            dest="quota_type",
            required=True,
            metavar="<quota-type>",
            help="Quota type ID or name (see project-quota-type-list)",
        )
        parser.add_argument(
            "--allowed-value",
            "--allowed_value",
            dest="allowed",
            required=True,
            type=size,
            metavar="<value>",
            help="Allowed value: a count, bytes (or a size like 500G) for Storage; -1: no limit",
        )
        parser.add_argument(
            "--high-watermark",
            "--high_watermark",
            dest="high",
            type=size,
            metavar="<value>",
            help="Usage at which the project is warned (default: the allowed value)",
        )
        add_project_option(parser)
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        item = {"quota_type_id": client.quota_types.find(args.quota_type).id, "allowed_value": args.allowed}
        if args.high is not None:
            item["high_watermark"] = args.high
        saved = client.quotas.set([item], args.project)[0]
        return base.show(client.quotas.find(saved.id, args.project))


class UpdateQuota(base.ShowOne):
    """Change an allowed quota (admin)"""

    project_options = ("project",)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("quota", metavar="<quota>", help="Allowed quota ID, or its type in the project")
        parser.add_argument(
            "--allowed-value",
            "--allowed_value",
            dest="allowed",
            type=size,
            metavar="<value>",
            help="New allowed value (-1: no limit)",
        )
        parser.add_argument(
            "--high-watermark",
            "--high_watermark",
            dest="high",
            type=size,
            metavar="<value>",
            help="New high watermark",
        )
        add_project_option(parser)
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        if args.allowed is None and args.high is None:
            raise ValueError("Nothing to change: give --allowed-value or --high-watermark.")
        quota_id = find_quota_id(client, args.quota, args.project)
        return base.show(client.quotas.update(quota_id, allowed_value=args.allowed, high_watermark=args.high))


class DeleteQuota(base.Command):
    """Remove allowed quotas (admin): the project is no longer limited in those"""

    project_options = ("project",)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "quotas", metavar="<quota>", nargs="+", help="Allowed quota(s): ID, or type in the project"
        )
        add_project_option(parser)
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        base.act_on_each(
            args.quotas,
            "quota",
            lambda quota: client.quotas.delete(find_quota_id(client, quota, args.project)),
        )


class ResetQuota(base.Command):
    """Remove every allowed quota of a project (admin): it is no longer limited"""

    project_options = ("project",)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_project_option(parser)
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        quotas = client.quotas.list(args.project)
        base.act_on_each([q.id for q in quotas], "quota", client.quotas.delete)
