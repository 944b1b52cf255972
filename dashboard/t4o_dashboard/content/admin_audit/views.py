"""The audit log for administrators: every mutating call and every job's start and end, over a chosen
window of time, with users and projects by name."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from horizon import exceptions, tables
from openstack_dashboard.api import keystone

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common
from t4o_dashboard.content.admin_audit import tables as audit_tables

# The windows offered (?window=...), in minutes; the API keeps at most [audit] keep_days of entries.
WINDOWS = (
    ("1h", _("Last hour"), 60),
    ("24h", _("Last 24 hours"), 24 * 60),
    ("7d", _("Last 7 days"), 7 * 24 * 60),
)
DEFAULT_WINDOW = "24h"


def window_of(request: Any) -> tuple[str, int]:
    """The window the page asks for (an unknown one: the default) and its minutes."""
    minutes = {key: m for key, _label, m in WINDOWS}
    key = request.GET.get("window", DEFAULT_WINDOW)
    key = key if key in minutes else DEFAULT_WINDOW
    return key, minutes[key]


def user_names(request: Any) -> dict[str, str]:
    """User id to name; without Keystone's list the ids are shown."""
    try:
        return {u.id: u.name for u in keystone.user_list(request)}
    except Exception:
        exceptions.handle(request, _("Unable to list users; their IDs are shown."), ignore=True)
        return {}


class IndexView(tables.DataTableView):
    table_class = audit_tables.AuditTable
    template_name = "t4o_dashboard/admin_audit.html"
    page_title = _("Audit Log")

    def get_data(self) -> list[Any]:
        _key, minutes = window_of(self.request)
        entries = common.list_or_empty(
            self.request,
            _("Unable to read the audit log."),
            lambda: workloadmgr.auditlog_list(self.request, minutes),
        )
        if entries:
            projects, users = common.project_names(self.request), user_names(self.request)
            for entry in entries:
                entry.project_name = projects.get(entry.project_id)
                entry.user_name = users.get(entry.user_id)
        return entries

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        key, _minutes = window_of(self.request)
        context["windows"] = [(k, label) for k, label, _m in WINDOWS]
        context["window"] = key
        return context
