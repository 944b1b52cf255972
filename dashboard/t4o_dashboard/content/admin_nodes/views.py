"""The T4O service nodes: heartbeat state, and whether each workloads worker takes new jobs."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common
from t4o_dashboard.content.admin_nodes import tables as node_tables


class IndexView(common.TableView):
    table_class = node_tables.NodesTable
    page_title = _("Backup Service Nodes")

    def get_data(self) -> list[Any]:
        nodes = common.list_or_empty(
            self.request, _("Unable to list the service nodes."), lambda: workloadmgr.node_list(self.request)
        )
        return sorted(nodes, key=lambda n: (n.host, n.binary))
