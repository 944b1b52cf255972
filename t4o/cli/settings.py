"""``openstack workload setting create|list|show|set|delete``."""

from __future__ import annotations

import argparse
from typing import Any

from t4o.cli import base
from t4o.client import Client

LIST_FIELDS = ("name", "value", "category", "type", "is_public", "is_hidden", "description")
LIST_HEADERS = ("Name", "Value", "Category", "Type", "Public", "Hidden", "Description")


def add_setting_fields(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--category", metavar="<category>", help="Category the setting belongs to")
    parser.add_argument("--type", dest="setting_type", metavar="<type>", help="Type of the value (free text)")
    parser.add_argument("--description", metavar="<description>", help="What the setting is for")
    parser.add_argument(
        "--public", dest="is_public", action="store_true", default=None, help="Visible to every project"
    )
    parser.add_argument(
        "--private", dest="is_public", action="store_false", help="Visible to this project only"
    )
    parser.add_argument(
        "--hidden", dest="is_hidden", action="store_true", default=None, help="Hide the setting from listings"
    )
    parser.add_argument(
        "--metadata",
        action="append",
        type=base.key_value,
        metavar="<key=value>",
        help="Metadata of the setting, repeatable",
    )


def setting_body(args: argparse.Namespace, value: str | None) -> dict[str, Any]:
    fields = {
        "name": args.name,
        "value": value,
        "category": args.category,
        "type": args.setting_type,
        "description": args.description,
        "is_public": args.is_public,
        "is_hidden": args.is_hidden,
        "metadata": dict(args.metadata) if args.metadata else None,
    }
    return {k: v for k, v in fields.items() if v is not None}


class CreateSetting(base.ShowOne):
    """Create a setting (fails when it exists; use `setting set` to change one)"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("name", metavar="<name>", help="Setting name")
        parser.add_argument("value", metavar="<value>", help="Setting value")
        add_setting_fields(parser)
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        return base.show(client.settings.create([setting_body(args, args.value)])[0])


class SetSetting(base.ShowOne):
    """Change a setting (creates it when missing)"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("name", metavar="<name>", help="Setting name")
        parser.add_argument("--value", metavar="<value>", help="New value")
        add_setting_fields(parser)
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        body = setting_body(args, args.value)
        if "value" not in body:
            body["value"] = client.settings.get(args.name).value
        return base.show(client.settings.update([body])[0])


class ListSetting(base.Lister):
    """List the project's settings"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        base.add_paging_options(parser, "settings", key="name")
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        return base.rows(client.settings.list(**base.paging(args)), LIST_FIELDS, LIST_HEADERS)


class ShowSetting(base.ShowOne):
    """Show a setting"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("name", metavar="<name>", help="Setting name")
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        return base.show(client.settings.get(args.name))


class DeleteSetting(base.Command):
    """Delete one or more settings"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("names", metavar="<name>", nargs="+", help="Setting(s) to delete")
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        for name in args.names:
            client.settings.delete(name)
