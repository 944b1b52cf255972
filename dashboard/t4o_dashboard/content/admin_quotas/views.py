"""Project quotas: the projects, a project's allowed quotas with its usage, and the form that sets them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _
from horizon import exceptions
from openstack_dashboard.api import keystone

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common, modal
from t4o_dashboard.content.admin_quotas import forms as quota_forms
from t4o_dashboard.content.admin_quotas import tables as quota_tables

INDEX_URL = "horizon:admin:backup_quotas:index"


@dataclass
class QuotaRow:
    """One kind of quota of a project: allowed None when no limit is set (then usage is not reported)."""

    id: str
    name: str
    in_bytes: bool
    allowed: int | None = None
    high: int | None = None
    usage: int | None = None
    quota_id: str | None = None


def quota_rows(request: Any, project_id: str) -> list[QuotaRow]:
    """Every kind of quota, with the project's limit and usage where one is set."""
    types = workloadmgr.quota_type_list(request)
    limits = {q.quota_type_id: q for q in workloadmgr.quota_list(request, project_id)}
    rows = []
    for qtype in types:
        row = QuotaRow(qtype.id, qtype.display_name, quota_forms.in_bytes(qtype))
        quota = limits.get(qtype.id)
        if quota is not None:
            row.allowed, row.high = int(quota.allowed_value), int(quota.high_watermark)
            row.usage = quota.get("usage")
            row.quota_id = quota.id
        rows.append(row)
    return rows


def _quota_rows_or_redirect(request: Any, project_id: str) -> list[QuotaRow]:
    return common.get_or_redirect(
        request, _("Unable to read the project's quotas."), INDEX_URL, lambda: quota_rows(request, project_id)
    )


def project_name(request: Any, project_id: str) -> str:
    try:
        return keystone.tenant_get(request, project_id, admin=True).name
    except Exception:
        exceptions.handle(request, ignore=True)
        return project_id


class IndexView(common.TableView):
    table_class = quota_tables.ProjectsTable
    page_title = _("Backup Quotas")

    def get_data(self) -> list[Any]:
        projects = common.list_or_empty(
            self.request, _("Unable to list projects."), lambda: keystone.tenant_list(self.request)[0]
        )
        return sorted(projects, key=lambda p: p.name.lower())


class DetailView(common.TableView):
    table_class = quota_tables.QuotasTable
    page_title = _("Backup Quotas of Project {{ project_name }}")

    def get_data(self) -> list[Any]:
        return _quota_rows_or_redirect(self.request, self.kwargs["project_id"])

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["project_name"] = project_name(self.request, self.kwargs["project_id"])
        return context


class UpdateView(modal.ModalForm):
    form_class = quota_forms.QuotasForm
    modal_id = "update_quotas_modal"
    page_title = _("Edit Backup Quotas")
    submit_url_name = "horizon:admin:backup_quotas:update"
    success_url_name = "horizon:admin:backup_quotas:detail"
    help_text = _(
        "Empty: no limit is set. -1: unlimited. The high watermark is where a warning is due; it cannot "
        "exceed the allowed value. Storage is in GiB."
    )

    def get_initial(self) -> dict[str, Any]:
        project_id = self.kwargs["project_id"]
        return {"project_id": project_id, "rows": _quota_rows_or_redirect(self.request, project_id)}
