"""All restores of the project, newest first."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from horizon import exceptions

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common
from t4o_dashboard.content.restores import tables as restore_tables


class IndexView(common.TableView):
    table_class = restore_tables.RestoresTable
    page_title = _("Restores")

    def get_data(self) -> list[Any]:
        try:
            restores = workloadmgr.restore_list(self.request)
        except Exception:
            exceptions.handle(self.request, _("Unable to list restores."))
            return []
        names = common.names_by_id(lambda: workloadmgr.snapshot_list(self.request))
        for restore in restores:
            restore.snapshot_name = names.get(restore.snapshot_id)
        return sorted(restores, key=lambda r: r.created_at or "", reverse=True)
