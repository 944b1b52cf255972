"""The nodes table: every T4O service with its heartbeat state; workloads workers can be disabled."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from horizon import tables

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common


def _host(obj_id: str) -> str:
    """The host of a node id ``binary@host``."""
    return obj_id.split("@", 1)[1]


def _is_worker(node: Any) -> bool:
    return node.binary == workloadmgr.WORKLOADS_BINARY


def _takes_jobs(node: Any) -> bool:
    """A workloads worker that is up and enabled: one the scheduler can place a job on."""
    return _is_worker(node) and node.state == "up" and not node.disabled


def _last_worker(nodes: Any, node: Any) -> bool:
    return not any(_takes_jobs(other) and other.host != node.host for other in nodes or [])


LAST_WORKER_WARNING = _(
    "This is the last live, enabled workloads worker: once it is disabled, no snapshot or restore can "
    "start (they are refused) until a worker is enabled again."
)


DISABLE_HELP = _("The scheduler places no new job on a disabled node; the jobs it runs finish.")


class DisableNode(tables.BatchAction):
    name = "disable"
    help_text = DISABLE_HELP

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.action_type = "danger"

    @staticmethod
    def action_present(count: int) -> Any:
        return ngettext_lazy("Disable Node", "Disable Nodes", count)

    @staticmethod
    def action_past(count: int) -> Any:
        return ngettext_lazy("Disabled Node", "Disabled Nodes", count)

    def allowed(self, request: Any, node: Any = None) -> bool:
        return node is None or (_is_worker(node) and not node.disabled)

    def update(self, request: Any, node: Any) -> None:
        super().update(request, node)
        # Set for each row: Horizon may reuse an action object between rows.
        last = node is not None and _takes_jobs(node) and _last_worker(self.table.data, node)
        self.help_text = LAST_WORKER_WARNING if last else DISABLE_HELP

    def action(self, request: Any, obj_id: str) -> None:
        workloadmgr.node_set_disabled(request, _host(obj_id), True)


class EnableNode(tables.BatchAction):
    name = "enable"

    @staticmethod
    def action_present(count: int) -> Any:
        return ngettext_lazy("Enable Node", "Enable Nodes", count)

    @staticmethod
    def action_past(count: int) -> Any:
        return ngettext_lazy("Enabled Node", "Enabled Nodes", count)

    def allowed(self, request: Any, node: Any = None) -> bool:
        return node is None or (_is_worker(node) and node.disabled)

    def action(self, request: Any, obj_id: str) -> None:
        workloadmgr.node_set_disabled(request, _host(obj_id), False)


class NodesTable(tables.DataTable):
    host = tables.Column("host", verbose_name=_("Host"))
    binary = tables.Column("binary", verbose_name=_("Service"))
    state = tables.Column(
        "state",
        verbose_name=_("State"),
        status=True,
        status_choices=(("up", True), ("down", False)),
        display_choices=(("up", _("Up")), ("down", _("Down"))),
    )
    disabled = tables.Column(
        lambda n: _("Disabled") if n.disabled else _("Enabled"), verbose_name=_("Takes New Jobs")
    )
    last_heartbeat = tables.Column(
        "last_heartbeat", verbose_name=_("Last Heartbeat"), filters=(common.timestamp,)
    )

    class Meta:
        name = "nodes"
        verbose_name = _("Nodes")
        status_columns = ("state",)
        table_actions = (tables.FilterAction,)
        row_actions = (DisableNode, EnableNode)

    def get_object_display(self, node: Any) -> str:
        return f"{node.host} ({node.binary})"
