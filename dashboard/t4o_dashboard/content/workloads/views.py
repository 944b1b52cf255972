"""Workloads: the list, a workload's page with its snapshots, and the create/edit/snapshot forms."""

from __future__ import annotations

from typing import Any

from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext_lazy as _
from horizon import exceptions, tables

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common, modal
from t4o_dashboard.content.snapshots import tables as snapshot_tables
from t4o_dashboard.content.workloads import forms as workload_forms
from t4o_dashboard.content.workloads import tables as workload_tables

INDEX_URL = "horizon:project:workloads:index"


class IndexView(common.TableView):
    table_class = workload_tables.WorkloadsTable
    page_title = _("Workloads")

    def get_data(self) -> list[Any]:
        try:
            workloads = workloadmgr.workload_list(self.request)
            snapshots = workloadmgr.snapshot_list(self.request)
        except Exception:
            exceptions.handle(self.request, _("Unable to list workloads."))
            return []
        return [workload_tables.annotate(w, snapshots) for w in workloads]


def _get_workload(request: Any, workload_id: str) -> Any:
    return common.get_or_redirect(
        request,
        _("Unable to show the workload."),
        INDEX_URL,
        lambda: workloadmgr.workload_get(request, workload_id),
    )


class DetailView(tables.MultiTableView):
    """The workload's settings, a header with its status, last snapshot and size, and its snapshots.

    The header and the running snapshots' rows refresh in place (Horizon's row polling) while a job runs.
    """

    table_classes = (workload_tables.WorkloadSummaryTable, snapshot_tables.SnapshotsTable)
    template_name = "t4o_dashboard/workload_detail.html"
    page_title = _("Workload {{ workload.name }}")

    def workload(self) -> Any:
        if not hasattr(self, "_workload"):
            self._workload = _get_workload(self.request, self.kwargs["workload_id"])
        return self._workload

    def snapshots(self) -> list[Any]:
        if not hasattr(self, "_snapshots"):
            workload = self.workload()
            try:
                snaps = workloadmgr.snapshot_list(self.request, workload_id=workload.id)
            except Exception:
                exceptions.handle(self.request, _("Unable to list the workload's snapshots."))
                snaps = []
            for snap in snaps:
                snap.workload_name = workload.name
            self._snapshots = sorted(snaps, key=lambda s: s.created_at or "", reverse=True)
        return self._snapshots

    def get_summary_data(self) -> list[Any]:
        return [workload_tables.summarize(self.workload(), self.snapshots())]

    def get_snapshots_data(self) -> list[Any]:
        return self.snapshots()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        workload = self.workload()
        context.update(
            workload=workload,
            instances=workload_tables.instance_names(workload),
            schedule=workload_tables.schedule_text(workload),
            rpo=workload_tables.rpo_parts(workload),
            file_search_url=reverse("horizon:project:workloads:file_search", args=[workload.id]),
        )
        return context


class CreateView(modal.ModalForm):
    form_class = workload_forms.CreateWorkloadForm
    modal_id = "create_workload_modal"
    page_title = _("Create Workload")
    submit_label = _("Create Workload")
    submit_url_name = "horizon:project:workloads:create"
    success_url = reverse_lazy(INDEX_URL)
    help_text = _(
        "A workload is a group of instances backed up together. Pick the instances, then when snapshots "
        "run and how many are kept."
    )


class UpdateView(modal.ModalForm):
    form_class = workload_forms.UpdateWorkloadForm
    modal_id = "update_workload_modal"
    page_title = _("Edit Workload")
    submit_url_name = "horizon:project:workloads:update"
    success_url = reverse_lazy(INDEX_URL)

    def get_initial(self) -> dict[str, Any]:
        wl = _get_workload(self.request, self.kwargs["workload_id"])
        js = wl.jobschedule or {}
        initial: dict[str, Any] = {
            "workload_id": wl.id,
            "name": wl.name,
            "description": wl.description,
            "instances": [vm["id"] for vm in wl.instances or []],
            "current_instances": wl.instances or [],
            "schedule_enabled": bool(js.get("enabled")),
            "metadata": wl.get("metadata") or {},
            "policy": (wl.get("metadata") or {}).get("policy_id"),
            "encryption": bool(wl.get("encryption")),
            "secret_uuid": wl.get("secret_uuid") or "",
        }
        for key in ("interval", "start_time", "timezone", "retention_policy_type", "retention_policy_value",
                    "fullbackup_interval"):  # fmt: skip
            if js.get(key) not in (None, ""):
                initial[key] = js[key]
        return initial


class SnapshotView(modal.ModalForm):
    form_class = workload_forms.SnapshotForm
    modal_id = "snapshot_workload_modal"
    page_title = _("Snapshot Now")
    submit_label = _("Take Snapshot")
    submit_url_name = "horizon:project:workloads:snapshot"
    success_url_name = "horizon:project:workloads:detail"
    help_text = _("The snapshot runs in the background; its progress shows on the workload's page.")

    def get_initial(self) -> dict[str, Any]:
        return {"workload_id": self.kwargs["workload_id"]}
