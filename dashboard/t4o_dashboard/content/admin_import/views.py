"""Disaster recovery for the cloud administrator: import workloads from the backup target, and reassign
orphaned workloads (their project or user is gone) to a project and user of this cloud."""

from __future__ import annotations

from typing import Any

from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _
from horizon import tables

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common, modal
from t4o_dashboard.content.admin_import import forms as import_forms
from t4o_dashboard.content.admin_import import tables as import_tables

INDEX_URL = "horizon:admin:backup_import:index"


class IndexView(tables.MultiTableView):
    table_classes = (import_tables.ImportableTable, import_tables.OrphansTable)
    template_name = "t4o_dashboard/admin_import.html"
    page_title = _("Workload Import & Migration")

    def migrate_cloud(self) -> bool:
        return bool(self.request.GET.get("migrate_cloud"))

    def _names(self) -> dict[str, str]:
        if not hasattr(self, "_project_names"):
            self._project_names = common.project_names(self.request)
        return self._project_names

    def get_importable_data(self) -> list[Any]:
        target = common.list_or_empty(
            self.request,
            _("Unable to list the workloads on the backup target."),
            lambda: workloadmgr.importable_list(self.request),
        )
        if not target:
            return []
        names = self._names()
        for wl in target:
            wl.last_snapshot = getattr(wl, "last_snapshot_at", None)  # its newest snapshot on the target
            wl.project_name = names.get(wl.project_id)
        return sorted(target, key=lambda w: (w.in_database, w.project_name or w.project_id, w.name))

    def get_orphans_data(self) -> list[Any]:
        found = common.list_or_empty(
            self.request,
            _("Unable to list orphaned workloads."),
            lambda: workloadmgr.orphan_list(self.request, migrate_cloud=self.migrate_cloud()),
        )
        return sorted(found, key=lambda w: (w.project_id, w.name))

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["migrate_cloud"] = self.migrate_cloud()
        return context


class ReassignView(modal.ModalForm):
    form_class = import_forms.ReassignForm
    template_name = "t4o_dashboard/upload_form.html"
    ajax_template_name = "t4o_dashboard/_upload_form.html"
    modal_id = "reassign_workloads_modal"
    page_title = _("Reassign Workloads")
    submit_label = _("Reassign")
    submit_url_name = "horizon:admin:backup_import:reassign"
    success_url = reverse_lazy(INDEX_URL)
    help_text = _(
        "Moves workloads with their snapshots and restores to a project of this cloud; the chosen user "
        "becomes their owner (otherwise the owner stays). With a map of old to new project ids, every "
        "workload of each old project moves to its new one (only the listed workloads, if any). Workloads "
        "the database lacks are imported into their new project on the way; their scheduled snapshots wait "
        "until the owner sets the schedule again."
    )

    def get_initial(self) -> dict[str, Any]:
        ids = [i for i in self.request.GET.get("workload_ids", "").split(",") if i]
        mode = "map" if self.request.GET.get("mode") == "map" else "project"
        return {"workload_ids": ",".join(ids), "mode": mode}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        ids = [i for i in self.get_initial()["workload_ids"].split(",") if i]
        if ids:
            context["help_text"] = f"{self.help_text} " + str(_("Workloads: %s")) % ", ".join(ids)
        return context
