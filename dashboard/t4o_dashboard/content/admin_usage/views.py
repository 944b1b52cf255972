"""Backup storage used per project: a bar chart and the numbers behind it."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from horizon import exceptions, views

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common

BAR_WIDTH = 600  # pixels of the longest bar in the chart
ROW_HEIGHT = 30


def usage_by_project(workloads: list[Any], snapshots: list[Any]) -> dict[str, dict[str, int]]:
    usage: dict[str, dict[str, int]] = {}

    def entry(project_id: str) -> dict[str, int]:
        return usage.setdefault(project_id, {"workloads": 0, "snapshots": 0, "full": 0, "incremental": 0})

    for wl in workloads:
        entry(wl.project_id)["workloads"] += 1
    for snap in snapshots:
        if snap.status != "available":
            continue
        row = entry(snap.project_id)
        row["snapshots"] += 1
        kind = "full" if snap.snapshot_type == "full" else "incremental"
        row[kind] += snap.stored_bytes  # stored bytes, as the Storage quota counts them
    return usage


class IndexView(views.HorizonTemplateView):
    template_name = "t4o_dashboard/admin_usage.html"
    page_title = _("Backup Storage Usage")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        try:
            workloads = workloadmgr.workload_list(self.request, all_projects=True)
            snapshots = workloadmgr.snapshot_list(self.request, all_projects=True)
        except Exception:
            exceptions.handle(self.request, _("Unable to read storage usage."))
            workloads, snapshots = [], []
        names = common.project_names(self.request)
        usage = usage_by_project(workloads, snapshots)
        largest = max((u["full"] + u["incremental"] for u in usage.values()), default=0) or 1
        rows = []
        for project_id, u in sorted(usage.items(), key=lambda kv: -(kv[1]["full"] + kv[1]["incremental"])):
            total = u["full"] + u["incremental"]
            rows.append(
                {
                    "y": len(rows) * ROW_HEIGHT,
                    "project": names.get(project_id) or project_id,
                    "workloads": u["workloads"],
                    "snapshots": u["snapshots"],
                    "full": common.size(u["full"]),
                    "incremental": common.size(u["incremental"]),
                    "total": common.size(total),
                    "full_px": round(BAR_WIDTH * u["full"] / largest),
                    "incremental_px": round(BAR_WIDTH * u["incremental"] / largest),
                }
            )
        context.update(rows=rows, bar_width=BAR_WIDTH, chart_height=len(rows) * ROW_HEIGHT + 4)
        return context
