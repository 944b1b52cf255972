"""Snapshots of the project's workloads, a snapshot's details with its restores, and the restore forms."""

from __future__ import annotations

from typing import Any

from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext_lazy as _
from horizon import exceptions, tables

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common, modal
from t4o_dashboard.content.restores import tables as restore_tables
from t4o_dashboard.content.snapshots import forms as snapshot_forms
from t4o_dashboard.content.snapshots import tables as snapshot_tables

INDEX_URL = "horizon:project:backup_snapshots:index"


def with_workload_names(request: Any, snapshots: list[Any]) -> list[Any]:
    names = common.names_by_id(lambda: workloadmgr.workload_list(request))
    for snap in snapshots:
        snap.workload_name = names.get(snap.workload_id)
    return snapshots


class IndexView(common.TableView):
    """Every snapshot of the project, or of one workload with ``?workload_id=``."""

    table_class = snapshot_tables.SnapshotsTable
    page_title = _("Snapshots")

    def get_data(self) -> list[Any]:
        try:
            snaps = workloadmgr.snapshot_list(self.request, workload_id=self.request.GET.get("workload_id"))
        except Exception:
            exceptions.handle(self.request, _("Unable to list snapshots."))
            return []
        snaps.sort(key=lambda s: s.created_at or "", reverse=True)
        return with_workload_names(self.request, snaps)


def _get_snapshot(request: Any, snapshot_id: str) -> Any:
    return common.get_or_redirect(
        request,
        _("Unable to show the snapshot."),
        INDEX_URL,
        lambda: workloadmgr.snapshot_get(request, snapshot_id),
    )


def _disk_text(disk: Any) -> str:
    if not isinstance(disk, dict):
        return str(disk)
    label = disk.get("target") or disk.get("device") or disk.get("name") or disk.get("id") or "?"
    return f"{label} ({common.size(disk.get('size'))})" if disk.get("size") else str(label)


class DetailView(tables.DataTableView):
    """A snapshot's VMs and disks, and the restores made from it (their progress refreshes in place)."""

    table_class = restore_tables.RestoresTable
    template_name = "t4o_dashboard/snapshot_detail.html"
    page_title = _("Snapshot {{ snapshot.name|default:snapshot.id }}")

    def get_snapshot(self) -> Any:
        if not hasattr(self, "_snapshot"):
            self._snapshot = _get_snapshot(self.request, self.kwargs["snapshot_id"])
        return self._snapshot

    def get_data(self) -> list[Any]:
        snapshot = self.get_snapshot()
        try:
            restores = workloadmgr.restore_list(self.request, snapshot_id=snapshot.id)
        except Exception:
            exceptions.handle(self.request, _("Unable to list the snapshot's restores."))
            return []
        for restore in restores:
            restore.snapshot_name = snapshot.name
        return restores

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        snapshot = self.get_snapshot()
        context["snapshot"] = snapshot
        context["progress"] = common.progress(snapshot)
        context["size"] = common.size(snapshot.size)
        context["created"] = common.timestamp(snapshot.created_at)
        context["workload_url"] = reverse("horizon:project:workloads:detail", args=[snapshot.workload_id])
        workload_name = common.name_or_none(workloadmgr.workload_get, self.request, snapshot.workload_id)
        context["workload_name"] = snapshot.workload_id if workload_name is None else workload_name
        context["vms"] = [
            {
                "name": vm.get("name") or "-",
                "id": vm.get("id"),
                "status": vm.get("status") or "-",
                "size_text": common.size(vm.get("size")),
                "disks": [_disk_text(d) for d in vm.get("vdisks") or []],
            }
            for vm in snapshot.instances or []
        ]
        return context


class _RestoreView(modal.ModalForm):
    success_url = reverse_lazy("horizon:project:backup_restores:index")

    def get_initial(self) -> dict[str, Any]:
        snapshot_id = self.kwargs["snapshot_id"]
        snapshot = _get_snapshot(self.request, snapshot_id)
        vms = [
            {
                "id": vm["id"],
                "name": vm.get("name"),
                "vdisks": vm.get("vdisks"),
                "metadata": vm.get("metadata"),
            }
            for vm in snapshot.instances or []
            if vm.get("id")
        ]
        return {"snapshot_id": snapshot_id, "vms": vms}


class SelectiveRestoreView(_RestoreView):
    form_class = snapshot_forms.SelectiveRestoreForm
    modal_id = "selective_restore_modal"
    page_title = _("Selective Restore")
    submit_label = _("Restore")
    submit_url_name = "horizon:project:backup_snapshots:selective_restore"
    help_text = _(
        "Creates new VMs from the snapshot. Choose which VMs, their new names, a flavor, the network the "
        "restored VMs join and the volume type of restored volumes."
    )


class InplaceRestoreView(_RestoreView):
    form_class = snapshot_forms.InplaceRestoreForm
    modal_id = "inplace_restore_modal"
    page_title = _("In-place Restore")
    submit_label = _("Restore in place")
    submit_url_name = "horizon:project:backup_snapshots:inplace_restore"
    help_text = _("Writes the snapshot's data back onto the existing VMs' disks. What they hold now is lost.")
