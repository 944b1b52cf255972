"""Backup storage: each backup target's capacity, free and stored bytes (one row per target: the
configured one and those defined through the API), and the bytes stored per project (a bar chart and the
numbers behind it).

Stored bytes come from the API's storage usage, the figure the Storage quota counts, so this page and
Admin > Quotas agree; snapshot counts are of available snapshots, as in Admin > Workloads.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from horizon import exceptions, views

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common

BAR_WIDTH = 600  # pixels of the longest bar in the chart
ROW_HEIGHT = 30
TYPES = {"posix": _("Directory"), "nfs": _("NFS export"), "s3": _("S3 bucket")}


def usage_by_project(
    storage: list[dict[str, Any]], workloads: list[Any], snapshots: list[Any]
) -> dict[str, dict[str, int]]:
    """Per project: workloads, available snapshots, stored bytes (full, incremental) and provisioned."""
    usage: dict[str, dict[str, int]] = {}

    def entry(project_id: str) -> dict[str, int]:
        empty = {"workloads": 0, "snapshots": 0, "full": 0, "incremental": 0, "provisioned": 0}
        return usage.setdefault(project_id, empty)

    for row in storage:
        found = entry(row["project_id"])
        stored = int(row.get("stored_bytes") or 0)
        found["full"] = int(row.get("full_stored_bytes", stored) or 0)
        found["incremental"] = stored - found["full"]
        found["provisioned"] = int(row.get("bytes") or 0)
    for wl in workloads:
        entry(wl.project_id)["workloads"] += 1
    for snap in snapshots:
        if snap.status == "available":
            entry(snap.project_id)["snapshots"] += 1
    return usage


def target_view(target: Any) -> dict[str, Any]:
    """A backup target as the page shows it: sizes in IEC units and the bar's widths in pixels."""
    out: dict[str, Any] = {
        "name": target.get("name") or target.url,
        "default": bool(target.get("default")),
        "url": target.url,
        "type": TYPES.get(target.type, target.type),
        "mount_point": target.mount_point,
        "stored": common.size(target.stored_bytes),
        "workloads": target.get("workload_count"),
        "snapshots": target.get("snapshots"),
        "reason": target.reason,
        "known": target.total_bytes is not None,
    }
    if not out["known"]:
        return out
    total, free = int(target.total_bytes), int(target.free_bytes or 0)
    used = int(target.used_bytes if target.used_bytes is not None else total - free)
    stored = min(int(target.stored_bytes or 0), used)
    scale = BAR_WIDTH / (total or 1)
    out.update(
        total=common.size(total),
        free=common.size(free),
        used=common.size(used),
        other=common.size(used - stored),
        percent_used=round(100 * used / total) if total else 0,
        stored_px=round(stored * scale),
        other_px=round((used - stored) * scale),
        free_px=max(BAR_WIDTH - round(used * scale), 0),
    )
    return out


class IndexView(views.HorizonTemplateView):
    template_name = "t4o_dashboard/admin_usage.html"
    page_title = _("Backup Storage Usage")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        try:
            storage, targets = workloadmgr.storage_usage(self.request)
            workloads = workloadmgr.workload_list(self.request, all_projects=True)
            snapshots = workloadmgr.snapshot_list(self.request, all_projects=True)
        except Exception:
            exceptions.handle(self.request, _("Unable to read storage usage."))
            storage, targets, workloads, snapshots = [], [], [], []
        names = common.project_names(self.request)
        usage = usage_by_project(storage, workloads, snapshots)
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
                    "provisioned": common.size(u["provisioned"]),
                    "full_px": round(BAR_WIDTH * u["full"] / largest),
                    "incremental_px": round(BAR_WIDTH * u["incremental"] / largest),
                }
            )
        context.update(
            rows=rows,
            targets=[target_view(t) for t in targets],
            bar_width=BAR_WIDTH,
            chart_height=len(rows) * ROW_HEIGHT + 4,
        )
        return context
