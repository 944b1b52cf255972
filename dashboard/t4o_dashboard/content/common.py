"""Pieces the Backups panels share: job status display, progress text, sizes, names and error handling."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from horizon import exceptions, tables
from openstack_dashboard.api import keystone

from t4o_dashboard.api import workloadmgr

# "jobschedule.timezone: unknown ..." names the form field the API refused.
API_FIELD = re.compile(r"\bjobschedule\.(\w+)")

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
    ("executing", _("Running")),
    ("cancelling", _("Cancelling")),
)
WORKLOAD_STATUS_CHOICES = (("available", True), ("error", False), ("creating", None), ("locked", None))
WORKLOAD_STATUS_DISPLAY = (
    ("available", _("Available")),
    ("error", _("Error")),
    ("creating", _("Creating")),
    ("locked", _("Running")),  # a job of the workload runs: the same word as the job's row
)
SNAPSHOT_TYPE_DISPLAY = {"full": _("Full"), "incremental": _("Incremental")}
RESTORE_TYPE_DISPLAY = {
    "oneclick": _("One-click"),
    "selective": _("Selective"),
    "inplace": _("In-place"),
    "network-topology": _("Network topology"),
    "security-groups": _("Security groups"),
}


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


IEC_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def size(value: int | None) -> str:
    """A byte count in IEC units: '512 B', '1.5 KiB', '20.0 GiB' (every size the panels show)."""
    amount = float(value or 0)
    for unit in IEC_UNITS:
        if amount < 1024 or unit == IEC_UNITS[-1]:
            return f"{int(amount)} B" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")


def epoch_time(value: float | None) -> str:
    """Seconds since the epoch as '2026-11-26 09:53:52' (UTC)."""
    if value is None:
        return "-"
    return datetime.fromtimestamp(float(value), tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def is_running(job: Any) -> bool:
    return job.status in workloadmgr.RUNNING


def display_name(obj: Any) -> str:
    return obj.name or obj.id[:8]


def choice_text(value: str | None, choices: Any) -> str:
    """A status or type as the lists show it ('Available', 'Full'); unknown values as they are."""
    if not value:
        return "-"
    return str(dict(choices).get(value, value))


def job_name(job: Any, kind: Any) -> str:
    """A snapshot's or restore's name, or for an unnamed one '<kind> of <its start time>'."""
    if job.name:
        return str(job.name)
    return f"{kind} of {timestamp(job.created_at) or job.id}"


def snapshot_name(snapshot: Any) -> str:
    return job_name(snapshot, _("Snapshot"))


def restore_name(restore: Any) -> str:
    return job_name(restore, _("Restore"))


def project_names(request: Any) -> dict[str, str]:
    """Project id to name, for admin pages; without Keystone the ids are shown."""
    try:
        projects, _more = keystone.tenant_list(request)
    except Exception:
        exceptions.handle(request, _("Unable to list projects; their IDs are shown."), ignore=True)
        return {}
    return {p.id: p.name for p in projects}


def names_by_id(fetch: Callable[[], list[Any]]) -> dict[str, str]:
    """Id to name of what ``fetch`` lists; empty when it fails, so that the pages show short ids instead."""
    try:
        return {obj.id: obj.name for obj in fetch()}
    except Exception:
        return {}


def name_or_none(fetch: Callable[[Any, str], Any], request: Any, obj_id: str) -> str | None:
    """The name of one object, such as a refreshed row's parent; None when it cannot be read."""
    try:
        return fetch(request, obj_id).name
    except Exception:
        return None


def list_or_empty(request: Any, message: str, fetch: Callable[[], list[Any]]) -> list[Any]:
    """What ``fetch`` lists, or an empty table with ``message`` shown when the API fails."""
    try:
        return fetch()
    except Exception:
        exceptions.handle(request, message)
        return []


def get_or_redirect(request: Any, message: str, redirect_url_name: str, fetch: Callable[[], Any]) -> Any:
    """What ``fetch`` reads; when the API fails, ``message`` is shown on the page ``redirect_url_name``."""
    try:
        return fetch()
    except Exception:
        # handle() raises the redirect, so nothing is returned here.
        exceptions.handle(request, message, redirect=reverse(redirect_url_name))


def status_column(attr: str, choices: tuple[Any, ...], display: tuple[Any, ...]) -> tables.Column:
    """A status column whose rows Horizon polls until ``choices`` maps their status to True or False."""
    return tables.Column(
        attr, verbose_name=_("Status"), status=True, status_choices=choices, display_choices=display
    )


def job_status_column() -> tables.Column:
    return status_column("status", JOB_STATUS_CHOICES, JOB_STATUS_DISPLAY)


def workload_status_column(attr: str = "status") -> tables.Column:
    return status_column(attr, WORKLOAD_STATUS_CHOICES, WORKLOAD_STATUS_DISPLAY)


class TableView(tables.DataTableView):
    """A page with one table on Horizon's plain table template."""

    template_name = "horizon/common/_data_table_view.html"


class CancelJob(tables.BatchAction):
    """Cancels a running snapshot or restore; subclasses give the texts and the API call."""

    name = "cancel"

    def allowed(self, request: Any, job: Any = None) -> bool:
        return job is not None and is_running(job)


class DeleteJob(tables.DeleteAction):
    """Deletes a snapshot or restore that is not running; subclasses give the texts and the API call."""

    def allowed(self, request: Any, job: Any = None) -> bool:
        return job is None or not is_running(job)


def refused_on_form(
    form: Any,
    request: Any,
    exc: Exception,
    fields: tuple[str, ...],
    statuses: tuple[int, ...] = (400, 403, 409),
) -> bool:
    """Shows the API's refusal of what was typed (``statuses``: a bad value, a quota, a conflict) on the
    form, which stays open with its values: on the field the message names, else above the fields.
    False for any other failure, which the caller reports as a message."""
    if not isinstance(exc, workloadmgr.WorkloadmgrError) or exc.status not in statuses:
        return False
    text = str(exc)
    match = API_FIELD.search(text)
    field = match.group(1) if match else None
    if field in fields and field in form.fields:
        form.add_error(field, text)
    else:
        form.api_error(text)
    return True
