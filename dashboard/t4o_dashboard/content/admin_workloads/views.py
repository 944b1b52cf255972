"""All workloads across projects, with their project's name."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from horizon import exceptions

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common
from t4o_dashboard.content.admin_workloads import tables as admin_tables
from t4o_dashboard.content.workloads import tables as workload_tables


class IndexView(common.TableView):
    table_class = admin_tables.AdminWorkloadsTable
    page_title = _("All Workloads")

    def get_data(self) -> list[Any]:
        try:
            workloads = workloadmgr.workload_list(self.request, all_projects=True)
            snapshots = workloadmgr.snapshot_list(self.request, all_projects=True)
        except Exception:
            exceptions.handle(self.request, _("Unable to list workloads."))
            return []
        names = common.project_names(self.request)
        for wl in workloads:
            workload_tables.annotate(wl, snapshots)
            wl.project_name = names.get(wl.project_id)
        return sorted(workloads, key=lambda w: (w.project_name or w.project_id, w.name))
