"""Pieces the Backups panels share: job status display, progress text and sizes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _
from horizon import exceptions
from openstack_dashboard.api import keystone

from t4o_dashboard.api import workloadmgr

# Horizon polls a row while its status maps to None, and stops at True (done) or False (failed).
JOB_STATUS_CHOICES = (
    ("available", True),
    ("error", False),
    ("cancelled", False),
    ("queued", None),
    ("executing", None),
    ("cancelling", None),
)
JOB_STATUS_DISPLAY = (
    ("available", _("Available")),
    ("error", _("Error")),
    ("cancelled", _("Cancelled")),
    ("queued", _("Queued")),
    ("executing", _("Executing")),
    ("cancelling", _("Cancelling")),
)
WORKLOAD_STATUS_CHOICES = (("available", True), ("error", False), ("creating", None), ("locked", None))
WORKLOAD_STATUS_DISPLAY = (
    ("available", _("Available")),
    ("error", _("Error")),
    ("creating", _("Creating")),
    ("locked", _("Running a job")),
)


def progress(job: Any) -> str:
    """'42% Uploading disk vda', or the error of a failed job."""
    if job.status == "error" and job.error_msg:
        return str(job.error_msg)
    text = f"{job.progress_percent or 0}%"
    if job.progress_msg:
        text += f" {job.progress_msg}"
    return text


def timestamp(value: str | None) -> str | None:
    """'2026-11-26T09:53:52.000000Z' as '2026-11-26 09:53:52' (UTC, like the API); other text as it is."""
    if not value:
        return value
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return value


def size(value: int | None) -> str:
    return filesizeformat(value or 0)


def is_running(job: Any) -> bool:
    return job.status in workloadmgr.RUNNING


def display_name(obj: Any) -> str:
    return obj.name or obj.id[:8]


def project_names(request: Any) -> dict[str, str]:
    """Project id to name, for admin pages; without Keystone the ids are shown."""
    try:
        projects, _more = keystone.tenant_list(request)
    except Exception:
        exceptions.handle(request, _("Unable to list projects; their IDs are shown."), ignore=True)
        return {}
    return {p.id: p.name for p in projects}
