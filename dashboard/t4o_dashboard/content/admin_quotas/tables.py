"""Tables of the Quotas panel: the projects, and one project's allowed quotas with its usage."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from horizon import tables

from t4o_dashboard.content import common


class EditQuotas(tables.LinkAction):
    name = "edit"
    verbose_name = _("Edit Quotas")
    classes = ("ajax-modal", "btn-primary")
    icon = "pencil"

    def get_link_url(self, datum: Any = None) -> str:
        project_id = datum.id if datum is not None else self.table.kwargs["project_id"]
        return reverse("horizon:admin:backup_quotas:update", args=[project_id])


class ProjectsTable(tables.DataTable):
    name = tables.WrappingColumn("name", verbose_name=_("Project"), link="horizon:admin:backup_quotas:detail")
    description = tables.WrappingColumn(
        lambda p: getattr(p, "description", "") or "", verbose_name=_("Description")
    )
    project_id = tables.Column("id", verbose_name=_("Project ID"))

    class Meta:
        name = "projects"
        verbose_name = _("Projects")
        table_actions = (tables.FilterAction,)
        row_actions = (EditQuotas,)


def _amount(row: Any, value: int | None) -> str:
    if value is None:
        return "-"
    if value < 0:
        return str(_("Unlimited"))
    return common.size(value) if row.in_bytes else str(value)


def used_text(row: Any) -> str:
    if row.usage is None:
        return "-"
    used = _amount(row, row.usage)
    if row.allowed is not None and row.allowed > 0:
        return f"{used} ({round(100 * row.usage / row.allowed)}%)"
    return used


class QuotasTable(tables.DataTable):
    name = tables.Column("name", verbose_name=_("Quota"))
    allowed = tables.Column(
        lambda r: _amount(r, r.allowed) if r.allowed is not None else _("Not set (unlimited)"),
        verbose_name=_("Allowed"),
    )
    high_watermark = tables.Column(lambda r: _amount(r, r.high), verbose_name=_("High Watermark"))
    usage = tables.Column(used_text, verbose_name=_("In Use"))

    class Meta:
        name = "quotas"
        verbose_name = _("Quotas")
        table_actions = (EditQuotas,)
        footer = False
