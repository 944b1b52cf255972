"""``openstack workload importable list``, ``import``, ``orphaned list``, ``reassign``: disaster recovery
from the backup target (admin). Trilio's names: ``workload-get-importworkloads-list``,
``workload-importworkloads``, ``workload-get-orphaned-workloads-list``, ``workload-reassign-workloads``."""

from __future__ import annotations

import argparse
from typing import Any

import yaml

from t4o.cli import base
from t4o.client import Client

TARGET_FIELDS = ("id", "name", "project_id", "user_id", "snapshots", "in_database", "backup_target_id")
TARGET_HEADERS = ("ID", "Name", "Project ID", "User ID", "Snapshots", "In Database", "Backup Target")
ORPHAN_FIELDS = (*TARGET_FIELDS[:-2], "missing")
ORPHAN_HEADERS = (*TARGET_HEADERS[:-2], "Missing")
IMPORT_HEADERS = ("ID", "Name", "Result", "Snapshots Imported", "Error")
REASSIGN_FIELDS = ("id", "name", "old_project_id", "project_id", "user_id")
REASSIGN_HEADERS = ("ID", "Name", "Old Project ID", "Project ID", "User ID")


def _add_backup_target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backup-target",
        dest="backup_target_id",
        metavar="<backup-target-id>",
        help="Read only this backup target ('config': the configured one; default: every target)",
    )


class ListImportable(base.Lister):
    """List the workloads on the backup targets, and whether the database has them (admin)"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _add_backup_target(parser)
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        found = client.imports.list_importable(args.backup_target_id)
        return base.rows(found, TARGET_FIELDS, TARGET_HEADERS)


class ImportWorkloads(base.Lister):
    """Import workloads and their snapshots from the backup target: all, or those listed (admin).
    Importing again changes nothing but adds the snapshots taken since."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--workloadids",
            "--workload-id",
            dest="workload_ids",
            action="append",
            metavar="<workload_id>",
            help="A workload to import (repeat for more; default: every workload on the targets)",
        )
        _add_backup_target(parser)
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        report = client.imports.import_workloads(args.workload_ids, args.backup_target_id)
        rows = [
            (w["id"], w.get("name", ""), key.removesuffix("_workloads"), len(w.get("snapshots") or []),
             w.get("error", ""))
            for key in ("imported_workloads", "updated_workloads", "unchanged_workloads", "failed_workloads")
            for w in report.get(key, [])
        ]  # fmt: skip
        return IMPORT_HEADERS, rows


def _add_migrate_cloud(parser: argparse.ArgumentParser, help_text: str) -> None:
    """Trilio's --migrate_cloud flag, spelled both ways, as True/False."""
    parser.add_argument(
        "--migrate_cloud",
        "--migrate-cloud",
        dest="migrate_cloud",
        type=base.boolean,
        default=False,
        metavar="{True,False}",
        help=help_text,
    )


class ListOrphaned(base.Lister):
    """List the workloads on the backup target whose project or user no longer exists (admin)"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _add_migrate_cloud(parser, "List every workload on the target (they come from another cloud)")
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        return base.rows(client.imports.list_orphaned(args.migrate_cloud), ORPHAN_FIELDS, ORPHAN_HEADERS)


class ReassignWorkloads(base.Lister):
    """Move workloads to another project and user: listed ones, those of old projects, or as a map file
    says (admin). Workloads only on the backup target are imported into the new project."""

    project_options = ("new_tenant_id",)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--old_tenant_ids",
            "--old-project",
            dest="old_tenant_ids",
            action="append",
            metavar="<old_tenant_id>",
            help="Move every workload of this project (repeat)",
        )
        parser.add_argument(
            "--new_tenant_id",
            "--new-project",
            dest="new_tenant_id",
            metavar="<new_tenant_id>",
            help="The project the workloads move to",
        )
        parser.add_argument(
            "--workload_ids",
            "--workload-id",
            dest="workload_ids",
            action="append",
            metavar="<workload_id>",
            help="A workload to move (repeat)",
        )
        parser.add_argument(
            "--user_id",
            "--user",
            dest="user_id",
            metavar="<user_id>",
            help="The new owner (default: the workload's user)",
        )
        _add_migrate_cloud(parser, "The workloads come from another cloud's backup target")
        parser.add_argument(
            "--map_file",
            "--map-file",
            dest="map_file",
            metavar="<map_file>",
            help="YAML file: reassign_mappings: [{old_tenant_ids: [...], new_tenant_id: ..., "
            "user_id: ..., workload_ids: [...], migrate_cloud: ...}]",
        )
        return parser  # fmt: skip

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        mappings = [vars(args)] if not args.map_file else _read_map(args.map_file)
        moved = []
        for m in mappings:
            if not (m.get("workload_ids") or m.get("old_tenant_ids")):
                raise ValueError("Give --workload_ids or --old_tenant_ids (or a --map_file).")
            moved += client.imports.reassign(
                new_tenant_id=m.get("new_tenant_id"),
                user_id=m.get("user_id"),
                workload_ids=m.get("workload_ids"),
                old_tenant_ids=m.get("old_tenant_ids"),
                migrate_cloud=bool(m.get("migrate_cloud")),
            )
        return base.rows(moved, REASSIGN_FIELDS, REASSIGN_HEADERS)


def _read_map(path: str) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    mappings = data.get("reassign_mappings") if isinstance(data, dict) else None
    if not isinstance(mappings, list) or not all(isinstance(m, dict) for m in mappings):
        raise ValueError(f"{path}: expected 'reassign_mappings:' with a list of mappings")
    return mappings
