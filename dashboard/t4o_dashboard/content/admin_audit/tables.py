"""The audit log table: when, who, in which project, what, on which object, with what result."""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext_lazy as _
from horizon import tables

from t4o_dashboard.content import common

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_PHASES = {"start": _("started"), "end": _("ended")}


def action_text(entry: Any) -> str:
    """'POST createWorkload' as 'Create workload', 'snapshot.end' as 'Snapshot ended'."""
    action = str(entry.action or "")
    if entry.kind == "job" and "." in action:
        kind, phase = action.split(".", 1)
        return f"{kind.capitalize()} {_PHASES.get(phase, phase)}"
    name = action.split(" ", 1)[-1]
    return _CAMEL.sub(" ", name).lower().capitalize() or "-"


def object_text(entry: Any) -> str:
    if not entry.object_type and not entry.object_id:
        return "-"
    return " ".join(str(part) for part in (entry.object_type, entry.object_id) if part)


def result_text(entry: Any) -> str:
    """'Success', 'Failure (403)' for a call; a job's end status ('Available', 'Error') for a job."""
    text = common.choice_text(entry.result, (*common.JOB_STATUS_DISPLAY, ("success", _("Success"))))
    if entry.result == "failure":
        text = str(_("Failure"))
    if entry.kind == "api" and entry.status_code:
        text = f"{text} ({entry.status_code})"
    return text


class AuditTable(tables.DataTable):
    timestamp = tables.Column("timestamp", verbose_name=_("Time (UTC)"), filters=(common.timestamp,))
    user = tables.Column(lambda e: e.user_name or e.user_id or "-", verbose_name=_("User"))
    project = tables.Column(lambda e: e.project_name or e.project_id or "-", verbose_name=_("Project"))
    action = tables.Column(action_text, verbose_name=_("Action"))
    object = tables.Column(object_text, verbose_name=_("Object"))
    result = tables.Column(result_text, verbose_name=_("Result"))
    message = tables.WrappingColumn(lambda e: e.message or "", verbose_name=_("Message"))

    class Meta:
        name = "auditlog"
        verbose_name = _("Audit Log")
        table_actions = (tables.FilterAction,)
        multi_select = False
