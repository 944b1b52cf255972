"""The workloads table: status refreshed in place while a workload is busy, and its row actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from horizon import tables

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common


def annotate(workload: Any, snapshots: list[Any]) -> Any:
    """Adds the last snapshot's time, and the count and stored bytes of the workload's available
    snapshots: failed ones hold nothing and, as in the quotas, do not count."""
    done = [s for s in snapshots if s.workload_id == workload.id and s.status == "available"]
    workload.last_snapshot = max((s.created_at or "" for s in done), default="") or None
    workload.size = sum(s.stored_bytes for s in done)
    workload.snapshot_count = len(done)
    return workload


def summarize(workload: Any, snapshots: list[Any]) -> Any:
    """The header of a workload's page: annotate()'s figures, storage per type and the running snapshot."""
    annotate(workload, snapshots)
    running = [s for s in snapshots if s.workload_id == workload.id and common.is_running(s)]
    workload.running = running[0] if running else None
    # Busy while a snapshot of it runs, even if the workload's own status has not caught up yet.
    workload.summary_status = "locked" if running else workload.status
    done = [s for s in snapshots if s.workload_id == workload.id and s.status == "available"]
    for kind in ("full", "incremental"):
        of_kind = [s for s in done if (s.snapshot_type == "full") == (kind == "full")]
        stored = sum(s.stored_bytes for s in of_kind)
        setattr(workload, f"{kind}_text", f"{len(of_kind)} ({common.size(stored)})")
    return workload


def running_text(workload: Any) -> str:
    job = workload.running
    if job is None:
        return "-"
    return f"{common.snapshot_name(job)}: {common.progress(job)}"


def schedule_text(workload: Any) -> str:
    js = workload.jobschedule or {}
    if not js.get("enabled"):
        return str(_("Off"))
    keep = js.get("retention_policy_value")
    text = f"{js.get('interval', '?')} from {js.get('start_time', '?')}"
    return f"{text}, keep {keep}" if keep else text


def age_text(seconds: float | None) -> str:
    """An age as '45 min', '5 h 10 min' (under two days) or '3 d 4 h'."""
    if seconds is None:
        return ""
    minutes = max(int(seconds // 60), 0)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def rpo_parts(workload: Any) -> dict[str, str | None]:
    """The workload's RPO state as the API computed it (rpo_hours, last_snapshot_age_seconds,
    rpo_missed_since), in words: ``rpo`` ('26 h', None without one), ``age`` of the newest available
    snapshot (None without one) and ``missed_since`` (a time, None while the RPO holds)."""
    hours = workload.get("rpo_hours")
    age = workload.get("last_snapshot_age_seconds")
    since = workload.get("rpo_missed_since")
    return {
        "rpo": f"{float(hours):g} h" if hours is not None else None,
        "age": age_text(age) if age is not None else None,
        "missed_since": common.timestamp(since) if since else None,
    }


def rpo_html(workload: Any) -> SafeString:
    """The RPO cell: the RPO and the newest snapshot's age; a warning label while the RPO is missed."""
    parts = rpo_parts(workload)
    if parts["age"] is not None:
        age = str(_("newest snapshot %(age)s old") % {"age": parts["age"]})
    else:
        age = str(_("no snapshot yet"))
    if parts["rpo"] is None:
        return format_html('<span class="t4o-rpo">{}; {}</span>', _("No RPO"), age)
    if parts["missed_since"] is None:
        return format_html('<span class="t4o-rpo">{}; {}</span>', parts["rpo"], age)
    missed = str(_("RPO missed since %(time)s") % {"time": parts["missed_since"]})
    return format_html(
        '<span class="t4o-rpo">{}; {}</span><br><span class="label label-warning t4o-rpo-missed">'
        '<span class="fa fa-exclamation-triangle"></span> {}</span>',
        parts["rpo"],
        age,
        missed,
    )


def rpo_column() -> tables.Column:
    return tables.Column(
        rpo_html,
        verbose_name=_("RPO"),
        help_text=_(
            "Recovery point objective: how old the newest available snapshot may get. A warning shows "
            "since when it is older."
        ),
    )


def instance_names(workload: Any) -> str:
    return ", ".join(vm.get("name") or vm["id"][:8] for vm in workload.instances or [])


# Columns of annotate()'s figures, in the project's and the admin's workload tables and the summary.
def last_snapshot_column() -> tables.Column:
    return tables.Column(
        "last_snapshot", verbose_name=_("Last Snapshot"), empty_value=_("Never"), filters=(common.timestamp,)
    )


def size_column() -> tables.Column:
    return tables.Column(
        lambda w: common.size(w.size),
        verbose_name=_("Stored"),
        help_text=_("What the workload's available snapshots stored on the backup target."),
    )


class CreateWorkload(tables.LinkAction):
    name = "create"
    verbose_name = _("Create Workload")
    url = "horizon:project:workloads:create"
    classes = ("ajax-modal",)
    icon = "plus"


class EditWorkload(tables.LinkAction):
    name = "edit"
    verbose_name = _("Edit Workload")
    url = "horizon:project:workloads:update"
    classes = ("ajax-modal",)
    icon = "pencil"

    def allowed(self, request: Any, workload: Any = None) -> bool:
        return workload is None or workload.status in ("available", "error")


class TakeSnapshot(tables.LinkAction):
    name = "snapshot"
    verbose_name = _("Snapshot Now")
    url = "horizon:project:workloads:snapshot"
    classes = ("ajax-modal", "btn-primary")
    icon = "camera"

    def allowed(self, request: Any, workload: Any = None) -> bool:
        return workload is None or workload.status == "available"


class FileSearch(tables.LinkAction):
    """Finds files in the snapshots of one of the workload's VMs (a page of its own)."""

    name = "file_search"
    verbose_name = _("File Search")
    url = "horizon:project:workloads:file_search"
    icon = "search"


class DeleteWorkload(tables.DeleteAction):
    help_text = _("Deleting a workload deletes all its snapshots. Restored VMs stay.")

    @staticmethod
    def action_present(count: int) -> Any:
        return ngettext_lazy("Delete Workload", "Delete Workloads", count)

    @staticmethod
    def action_past(count: int) -> Any:
        return ngettext_lazy("Deleted Workload", "Deleted Workloads", count)

    def allowed(self, request: Any, workload: Any = None) -> bool:
        return workload is None or workload.status in ("available", "error")

    def delete(self, request: Any, obj_id: str) -> None:
        workloadmgr.workload_delete(request, obj_id)


def _refreshed(request: Any, workload_id: str, figures: Callable[[Any, list[Any]], Any]) -> Any:
    """The workload of a polled row, with ``figures`` (annotate or summarize) of its snapshots."""
    workload = workloadmgr.workload_get(request, workload_id)
    return figures(workload, workloadmgr.snapshot_list(request, workload_id=workload_id))


class UpdateWorkloadRow(tables.Row):
    ajax = True

    def get_data(self, request: Any, workload_id: str) -> Any:
        return _refreshed(request, workload_id, annotate)


class WorkloadsTable(tables.DataTable):
    name = tables.WrappingColumn(
        common.display_name, verbose_name=_("Name"), link="horizon:project:workloads:detail"
    )
    instances = tables.Column(instance_names, verbose_name=_("Instances"))
    schedule = tables.Column(schedule_text, verbose_name=_("Schedule"))
    last_snapshot = last_snapshot_column()
    rpo = rpo_column()
    size = size_column()
    status = common.workload_status_column()

    class Meta:
        name = "workloads"
        verbose_name = _("Workloads")
        status_columns = ("status",)
        row_class = UpdateWorkloadRow
        table_actions = (CreateWorkload, DeleteWorkload)
        row_actions = (TakeSnapshot, EditWorkload, FileSearch, DeleteWorkload)


class UpdateSummaryRow(tables.Row):
    ajax = True

    def get_data(self, request: Any, workload_id: str) -> Any:
        return _refreshed(request, workload_id, summarize)


class WorkloadSummaryTable(tables.DataTable):
    """One row, the header of a workload's page, refreshed in place (like the job rows) while it is busy."""

    status = common.workload_status_column("summary_status")
    running = tables.Column(running_text, verbose_name=_("Running Snapshot"))
    last_snapshot = last_snapshot_column()
    rpo = rpo_column()
    full = tables.Column("full_text", verbose_name=_("Full Snapshots"))
    incremental = tables.Column("incremental_text", verbose_name=_("Incremental Snapshots"))
    size = size_column()

    class Meta:
        name = "summary"
        verbose_name = _("Summary")
        status_columns = ("status",)
        row_class = UpdateSummaryRow
        footer = False
