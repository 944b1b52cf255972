"""All restores of the project, newest first, and a restore's page: what it created, with links, and
what it was asked for per VM."""

from __future__ import annotations

import logging
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from horizon import exceptions, views
from openstack_dashboard.api import nova

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common
from t4o_dashboard.content.restores import choices, detail
from t4o_dashboard.content.restores import tables as restore_tables

LOG = logging.getLogger(__name__)
INDEX_URL = "horizon:project:backup_restores:index"


class IndexView(common.TableView):
    table_class = restore_tables.RestoresTable
    page_title = _("Restores")

    def get_data(self) -> list[Any]:
        try:
            restores = workloadmgr.restore_list(self.request)
        except Exception:
            exceptions.handle(self.request, _("Unable to list restores."))
            return []
        names = common.names_by_id(lambda: workloadmgr.snapshot_list(self.request))
        for restore in restores:
            restore.snapshot_name = names.get(restore.snapshot_id)
        return sorted(restores, key=lambda r: r.created_at or "", reverse=True)


class DetailView(views.HorizonTemplateView):
    template_name = "t4o_dashboard/restore_detail.html"
    page_title = _("Restore {{ restore_name }}")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        restore = common.get_or_redirect(
            self.request,
            _("Unable to show the restore."),
            INDEX_URL,
            lambda: workloadmgr.restore_get(self.request, self.kwargs["restore_id"]),
        )
        try:
            snapshot = workloadmgr.snapshot_get(self.request, restore.snapshot_id)
        except Exception:
            snapshot = None  # deleted since: ids stand in for the names it held
        snapshot_vms = [vm for vm in (snapshot.instances if snapshot else None) or [] if isinstance(vm, dict)]
        volumes = {v["id"]: v for vm in snapshot_vms for v in choices.snapshot_volumes(vm) if v.get("id")}
        vm_names = {vm["id"]: vm["name"] for vm in snapshot_vms if vm.get("id") and vm.get("name")}
        # A group found in the project by its recorded id is named as the snapshot recorded it.
        group_names = {
            str(g["id"]): str(g["name"])
            for vm in snapshot_vms
            for g in (vm.get("metadata") or {}).get("security_groups") or []
            if isinstance(g, dict) and g.get("id") and g.get("name")
        }
        context.update(
            {
                "restore": restore,
                "restore_name": common.restore_name(restore),
                "restore_type": common.choice_text(restore.restore_type, common.RESTORE_TYPE_DISPLAY),
                "status": common.choice_text(restore.status, common.JOB_STATUS_DISPLAY),
                "progress": common.progress(restore),
                "created": common.timestamp(restore.created_at),
                "snapshot_name": common.snapshot_name(snapshot) if snapshot else restore.snapshot_id,
                "snapshot_url": reverse(
                    "horizon:project:backup_snapshots:detail", args=[restore.snapshot_id]
                ),
                "servers": detail.servers(restore, volumes, vm_names, group_names),
                "choices": choices.per_vm(restore, snapshot, self._flavor_names(restore)),
                "options": detail.options_text(restore),
            }
        )
        return context

    def _flavor_names(self, restore: Any) -> dict[str, str]:
        """Name of each flavor the options name, by its id or name; {} when the flavors cannot be listed
        (the ids are shown then)."""
        if not choices.flavor_ids(restore):
            return {}
        try:
            flavors = nova.flavor_list(self.request)
        except Exception as exc:
            LOG.warning("restore %s: flavors could not be listed to name them: %s", restore.id, exc)
            return {}
        return {key: f.name for f in flavors for key in (f.id, f.name) if key and f.name}
