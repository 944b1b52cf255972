"""The tables of the Import & Migration panel: workloads on the backup target, and orphaned ones."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import shortcuts
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from horizon import exceptions, messages, tables

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common

REASSIGN_URL = "horizon:admin:backup_import:reassign"


def in_database_text(wl: Any) -> str:
    if getattr(wl, "deleted_in_database", False):
        return str(_("Deleted there"))
    return str(_("Yes")) if wl.in_database else str(_("No"))


def missing_text(wl: Any) -> str:
    names = {"project": _("project"), "user": _("user")}
    return ", ".join(str(names.get(m, m)) for m in getattr(wl, "missing", None) or []) or "-"


def project_text(wl: Any) -> str:
    name = getattr(wl, "project_name", None)
    return f"{name} ({wl.project_id})" if name else wl.project_id or "-"


def report_import(request: Any, report: dict[str, list[dict[str, Any]]]) -> None:
    """The import's outcome as messages: imported, updated, skipped (unchanged) and failed workloads."""
    imported, updated = report["imported"], report["updated"]
    unchanged, failed = report["unchanged"], report["failed"]
    if imported:
        snaps = sum(len(w.get("snapshots") or []) for w in imported)
        messages.success(
            request,
            ngettext(
                "Imported %(count)d workload with %(snaps)d snapshot(s): %(names)s.",
                "Imported %(count)d workloads with %(snaps)d snapshot(s): %(names)s.",
                len(imported),
            )
            % {"count": len(imported), "snaps": snaps, "names": _names(imported)},
        )
    if updated:
        snaps = sum(len(w.get("snapshots") or []) for w in updated)
        messages.success(
            request,
            ngettext(
                "%(count)d workload already in the database got %(snaps)d new snapshot(s): %(names)s.",
                "%(count)d workloads already in the database got %(snaps)d new snapshot(s): %(names)s.",
                len(updated),
            )
            % {"count": len(updated), "snaps": snaps, "names": _names(updated)},
        )
    if unchanged:
        messages.info(
            request,
            ngettext(
                "Skipped %(count)d workload: the database already has it with all its snapshots.",
                "Skipped %(count)d workloads: the database already has them with all their snapshots.",
                len(unchanged),
            )
            % {"count": len(unchanged)},
        )
    for entry in failed:
        messages.error(
            request,
            _("Workload %(id)s was not imported: %(error)s")
            % {"id": entry.get("id"), "error": entry.get("error") or _("unknown error")},
        )
    if not (imported or updated or unchanged or failed):
        messages.info(request, _("The backup target holds no workload to import."))


def _names(entries: list[dict[str, Any]]) -> str:
    return ", ".join(e.get("name") or str(e.get("id", ""))[:8] for e in entries)


class ImportWorkloads(tables.Action):
    """Imports the selected workloads (or the row's) in one request, and reports what it did."""

    name = "import"
    verbose_name = _("Import")
    verbose_name_plural = _("Import Selected")
    icon = "download"
    help_text = _(
        "Workloads the database lacks come back with their snapshots; others get missing snapshots."
    )

    def handle(self, data_table: Any, request: Any, obj_ids: list[str]) -> Any:
        run_import(request, list(obj_ids))
        return shortcuts.redirect(request.get_full_path())


class ImportAll(tables.Action):
    """Imports every workload on the backup target."""

    name = "import_all"
    verbose_name = _("Import All")
    requires_input = False
    icon = "download"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.classes = (*self.classes, "btn-primary")

    def single(self, data_table: Any, request: Any, obj_id: Any) -> Any:
        run_import(request, None)
        return shortcuts.redirect(request.get_full_path())


def run_import(request: Any, workload_ids: list[str] | None) -> None:
    try:
        report = workloadmgr.import_workloads(request, workload_ids)
    except Exception:
        exceptions.handle(request, _("Unable to import workloads."))
        return
    report_import(request, report)


class ImportableTable(tables.DataTable):
    id = tables.Column("id", verbose_name=_("ID"))
    name = tables.WrappingColumn("name", verbose_name=_("Name"))
    project = tables.Column(project_text, verbose_name=_("Project"))
    snapshots = tables.Column("snapshots", verbose_name=_("Snapshots"))
    last_snapshot = tables.Column(
        "last_snapshot",
        verbose_name=_("Last Snapshot"),
        empty_value=_("None"),
        filters=(common.timestamp,),
    )
    in_database = tables.Column(in_database_text, verbose_name=_("In Database"))

    class Meta:
        name = "importable"
        verbose_name = _("Workloads on the Backup Target")
        multi_select = True  # the checkboxes for Import Selected (not a batch action: one request for all)
        table_actions = (tables.FilterAction, ImportAll, ImportWorkloads)
        row_actions = (ImportWorkloads,)


def reassign_url(workload_ids: list[str] | None = None, mode: str | None = None) -> str:
    query: dict[str, str] = {}
    if workload_ids:
        query["workload_ids"] = ",".join(workload_ids)
    if mode:
        query["mode"] = mode
    return reverse(REASSIGN_URL) + (f"?{urlencode(query)}" if query else "")


class ReassignWorkload(tables.LinkAction):
    """The row's workload into the reassign form."""

    name = "reassign"
    verbose_name = _("Reassign")
    classes = ("ajax-modal", "btn-primary")
    icon = "share"

    def get_link_url(self, datum: Any = None) -> str:
        return reassign_url([datum.id] if datum is not None else None)


class ReassignSelected(tables.Action):
    """The selected workloads into the reassign form (a page of its own)."""

    name = "reassign_selected"
    verbose_name = _("Reassign Selected")
    verbose_name_plural = _("Reassign Selected")
    icon = "share"

    def handle(self, data_table: Any, request: Any, obj_ids: list[str]) -> Any:
        return shortcuts.redirect(reassign_url(list(obj_ids)))


class ReassignByMap(tables.LinkAction):
    """Every workload of the old projects of a map of old to new project ids."""

    name = "reassign_map"
    verbose_name = _("Reassign by Project Map")
    classes = ("ajax-modal",)
    icon = "exchange"

    def get_link_url(self, datum: Any = None) -> str:
        return reassign_url(mode="map")


class ShowAllForMigration(tables.LinkAction):
    """Lists every workload on the target: another cloud's workloads are orphans here by definition."""

    name = "migrate_cloud"
    verbose_name = _("Show All (Cloud Migration)")
    icon = "cloud"

    def get_link_url(self, datum: Any = None) -> str:
        return reverse("horizon:admin:backup_import:index") + "?migrate_cloud=1"

    def allowed(self, request: Any, datum: Any = None) -> bool:
        return not request.GET.get("migrate_cloud")


class ShowOrphansOnly(tables.LinkAction):
    name = "orphans_only"
    verbose_name = _("Show Orphans Only")
    icon = "filter"

    def get_link_url(self, datum: Any = None) -> str:
        return reverse("horizon:admin:backup_import:index")

    def allowed(self, request: Any, datum: Any = None) -> bool:
        return bool(request.GET.get("migrate_cloud"))


class OrphansTable(tables.DataTable):
    id = tables.Column("id", verbose_name=_("ID"))
    name = tables.WrappingColumn("name", verbose_name=_("Name"))
    project = tables.Column("project_id", verbose_name=_("Project ID"))
    user = tables.Column("user_id", verbose_name=_("User ID"))
    missing = tables.Column(missing_text, verbose_name=_("Missing in Keystone"))
    snapshots = tables.Column("snapshots", verbose_name=_("Snapshots"))
    in_database = tables.Column(in_database_text, verbose_name=_("In Database"))

    class Meta:
        name = "orphans"
        verbose_name = _("Orphaned Workloads")
        multi_select = True
        table_actions = (
            tables.FilterAction,
            ReassignByMap,
            ReassignSelected,
            ShowAllForMigration,
            ShowOrphansOnly,
        )
        row_actions = (ReassignWorkload,)
