"""All workloads of all projects, for the cloud administrator."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from horizon import tables

from t4o_dashboard.content import common
from t4o_dashboard.content.workloads import tables as workload_tables


class AdminWorkloadsTable(tables.DataTable):
    project = tables.Column(
        lambda w: getattr(w, "project_name", None) or w.project_id, verbose_name=_("Project")
    )
    name = tables.WrappingColumn(common.display_name, verbose_name=_("Name"))
    instances = tables.Column(workload_tables.instance_names, verbose_name=_("Instances"))
    schedule = tables.Column(workload_tables.schedule_text, verbose_name=_("Schedule"))
    snapshots = tables.Column("snapshot_count", verbose_name=_("Snapshots"))
    last_snapshot = workload_tables.last_snapshot_column()
    rpo = workload_tables.rpo_column()
    size = workload_tables.size_column()
    status = common.workload_status_column()

    class Meta:
        name = "admin_workloads"
        verbose_name = _("All Workloads")
        status_columns = ("status",)
        table_actions = (tables.FilterAction,)

    def get_object_id(self, datum: Any) -> str:
        return datum.id
