"""The project's mounted snapshots, each with the recovery VM, its devices and when it is dismounted."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from horizon import tables

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common
from t4o_dashboard.content.mounts.forms import devices_text

MOUNT_STATUS_CHOICES = (
    ("mounted", True),
    ("dismounted", True),
    ("error", False),
    ("mounting", None),
    ("dismounting", None),
)
MOUNT_STATUS_DISPLAY = (
    ("mounted", _("Mounted")),
    ("dismounted", _("Dismounted")),
    ("error", _("Error")),
    ("mounting", _("Mounting")),
    ("dismounting", _("Dismounting")),
)


class Dismount(tables.BatchAction):
    """Detaches the snapshot's disks from the recovery VM (rows are keyed by snapshot)."""

    name = "dismount"
    help_text = _("The recovery VM loses the snapshot's disks; what it copied from them stays.")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.action_type = "danger"

    @staticmethod
    def action_present(count: int) -> Any:
        return ngettext_lazy("Dismount", "Dismount", count)

    @staticmethod
    def action_past(count: int) -> Any:
        return ngettext_lazy("Dismounted", "Dismounted", count)

    def allowed(self, request: Any, mount: Any = None) -> bool:
        return mount is None or mount.status == "mounted"

    def action(self, request: Any, obj_id: str) -> None:
        workloadmgr.snapshot_dismount(request, obj_id)


def _snapshot_link(mount: Any) -> str:
    return reverse("horizon:project:backup_snapshots:detail", args=[mount.snapshot_id])


def _server_link(mount: Any) -> str:
    return reverse("horizon:project:instances:detail", args=[mount.mount_vm_id])


class MountsTable(tables.DataTable):
    snapshot = tables.Column(
        lambda m: m.snapshot_name or m.snapshot_id[:8], verbose_name=_("Snapshot"), link=_snapshot_link
    )
    recovery_vm = tables.Column(
        lambda m: getattr(m, "server_name", None) or m.mount_vm_id,
        verbose_name=_("Recovery VM"),
        link=_server_link,
    )
    devices = tables.Column(devices_text, verbose_name=_("Devices"))
    mounted_at = tables.Column("mounted_at", verbose_name=_("Mounted"), filters=(common.timestamp,))
    last_used_at = tables.Column(
        "last_used_at", verbose_name=_("Last read"), empty_value=_("Never"), filters=(common.timestamp,)
    )
    expires_at = tables.Column(
        "expires_at", verbose_name=_("Dismounted if idle at"), empty_value="-", filters=(common.timestamp,)
    )
    status = common.status_column("status", MOUNT_STATUS_CHOICES, MOUNT_STATUS_DISPLAY)

    def get_object_id(self, mount: Any) -> str:
        return str(mount.snapshot_id)

    def get_object_display(self, mount: Any) -> str:
        return str(mount.snapshot_name or mount.snapshot_id)

    class Meta:
        name = "mounts"
        verbose_name = _("Mounted Snapshots")
        table_actions = (Dismount,)
        row_actions = (Dismount,)
