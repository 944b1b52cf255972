"""Mounting a snapshot: its disks attached read-only to a server of the project (the recovery VM)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from horizon import exceptions, forms, messages

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content.workloads.forms import instance_choices


def devices_text(mount: Any) -> str:
    """'vdb, vdc': where the snapshot's disks show in the recovery VM."""
    return ", ".join(str(d.get("device") or "?") for d in mount.disks or []) or "-"


class MountForm(forms.SelfHandlingForm):
    snapshot_id = forms.CharField(widget=forms.HiddenInput())
    mount_vm_id = forms.ChoiceField(
        label=_("Recovery VM"),
        help_text=_("A running or stopped server of the project; the snapshot's disks are attached to it."),
    )

    def __init__(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        # The snapshot's own VMs are left out: a recovery VM reads another server's disks.
        own = set(self.initial.get("own_vm_ids") or [])
        self.fields["mount_vm_id"].choices = [c for c in instance_choices(request) if c[0] not in own]

    def handle(self, request: Any, data: dict[str, Any]) -> Any:
        back = reverse("horizon:project:backup_snapshots:detail", args=[data["snapshot_id"]])
        try:
            mount = workloadmgr.snapshot_mount(request, data["snapshot_id"], data["mount_vm_id"])
        except Exception:
            exceptions.handle(request, _("Unable to mount the snapshot."), redirect=back)
            return False
        messages.success(
            request,
            _("The snapshot is mounted: its disks are %(devices)s in the recovery VM.")
            % {"devices": devices_text(mount)},
        )
        return mount
