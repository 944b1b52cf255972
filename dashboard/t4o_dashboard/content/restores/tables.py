"""The restores table: progress (percent and message) refreshed in place until the restore ends."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from horizon import tables

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common


class CancelRestore(common.CancelJob):
    @staticmethod
    def action_present(count: int) -> Any:
        return ngettext_lazy("Cancel Restore", "Cancel Restores", count)

    @staticmethod
    def action_past(count: int) -> Any:
        return ngettext_lazy("Cancelled Restore", "Cancelled Restores", count)

    def action(self, request: Any, obj_id: str) -> None:
        workloadmgr.restore_cancel(request, obj_id)


class DeleteRestore(common.DeleteJob):
    help_text = _("Only the record of the restore is deleted; restored VMs stay.")

    @staticmethod
    def action_present(count: int) -> Any:
        return ngettext_lazy("Delete Restore", "Delete Restores", count)

    @staticmethod
    def action_past(count: int) -> Any:
        return ngettext_lazy("Deleted Restore", "Deleted Restores", count)

    def delete(self, request: Any, obj_id: str) -> None:
        workloadmgr.restore_delete(request, obj_id)


class UpdateRestoreRow(tables.Row):
    ajax = True

    def get_data(self, request: Any, restore_id: str) -> Any:
        restore = workloadmgr.restore_get(request, restore_id)
        # The refreshed row names its snapshot like the page did.
        restore.snapshot_name = common.name_or_none(workloadmgr.snapshot_get, request, restore.snapshot_id)
        return restore


def _snapshot_link(restore: Any) -> str:
    return reverse("horizon:project:backup_snapshots:detail", args=[restore.snapshot_id])


class RestoresTable(tables.DataTable):
    # A plain column: names break at spaces, not inside words.
    name = tables.Column(
        common.restore_name, verbose_name=_("Name"), link="horizon:project:backup_restores:detail"
    )
    snapshot = tables.Column(
        lambda r: getattr(r, "snapshot_name", None) or r.snapshot_id[:8],
        verbose_name=_("Snapshot"),
        link=_snapshot_link,
    )
    restore_type = tables.Column(
        "restore_type", verbose_name=_("Type"), display_choices=tuple(common.RESTORE_TYPE_DISPLAY.items())
    )
    created = tables.Column("created_at", verbose_name=_("Started"), filters=(common.timestamp,))
    progress = tables.Column(common.progress, verbose_name=_("Progress"))
    status = common.job_status_column()

    class Meta:
        name = "restores"
        verbose_name = _("Restores")
        no_data_message = _(
            "No restores yet. To make one, open Backups > Snapshots and choose a restore in an available "
            "snapshot's actions."
        )
        status_columns = ("status",)
        row_class = UpdateRestoreRow
        table_actions = (DeleteRestore,)
        row_actions = (CancelRestore, DeleteRestore)

    def get_object_display(self, restore: Any) -> str:
        return common.restore_name(restore)
