"""The workload policies table: the schedule and retention each decides, and its projects."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from horizon import tables

from t4o_dashboard.api import workloadmgr


def retention_text(policy: Any) -> str:
    fields = policy.fields
    value = fields.get("retention_policy_value")
    if value in (None, ""):
        return "-"
    if str(fields.get("retention_policy_type", "")).startswith("Number of days"):
        return str(_("%s days")) % value
    return str(_("%s snapshots")) % value


def full_every_text(policy: Any) -> str:
    every = fields_int(policy, "fullbackup_interval")
    if every is None:
        return "-"
    if every == -1:
        return str(_("only the first"))
    if every == 0:
        return str(_("every snapshot"))
    return str(_("every %d snapshots")) % every


def fields_int(policy: Any, key: str) -> int | None:
    try:
        return int(policy.fields[key])
    except (KeyError, TypeError, ValueError):
        return None


def projects_text(policy: Any) -> str:
    names = getattr(policy, "project_names", None) or []
    return ", ".join(names) or "-"


class CreatePolicy(tables.LinkAction):
    name = "create"
    verbose_name = _("Create Policy")
    url = "horizon:admin:backup_policies:create"
    classes = ("ajax-modal",)
    icon = "plus"


class EditPolicy(tables.LinkAction):
    name = "edit"
    verbose_name = _("Edit Policy")
    url = "horizon:admin:backup_policies:update"
    classes = ("ajax-modal",)
    icon = "pencil"


class AssignPolicy(tables.LinkAction):
    name = "assign"
    verbose_name = _("Assign to Projects")
    url = "horizon:admin:backup_policies:assign"
    classes = ("ajax-modal", "btn-primary")
    icon = "users"


class DeletePolicy(tables.DeleteAction):
    help_text = _("A policy that workloads follow cannot be deleted.")

    @staticmethod
    def action_present(count: int) -> Any:
        return ngettext_lazy("Delete Policy", "Delete Policies", count)

    @staticmethod
    def action_past(count: int) -> Any:
        return ngettext_lazy("Deleted Policy", "Deleted Policies", count)

    def delete(self, request: Any, obj_id: str) -> None:
        workloadmgr.policy_delete(request, obj_id)


class PoliciesTable(tables.DataTable):
    name = tables.WrappingColumn("name", verbose_name=_("Name"))
    description = tables.WrappingColumn("description", verbose_name=_("Description"))
    interval = tables.Column(lambda p: p.fields.get("interval") or "-", verbose_name=_("Interval"))
    retention = tables.Column(retention_text, verbose_name=_("Keep"))
    full_every = tables.Column(full_every_text, verbose_name=_("Full Snapshot"))
    projects = tables.WrappingColumn(projects_text, verbose_name=_("Projects"))

    class Meta:
        name = "policies"
        verbose_name = _("Workload Policies")
        table_actions = (CreatePolicy, DeletePolicy)
        row_actions = (AssignPolicy, EditPolicy, DeletePolicy)
