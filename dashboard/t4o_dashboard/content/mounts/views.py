"""Mount and dismount a snapshot from its page, and the project's mounted snapshots."""

from __future__ import annotations

import logging
from typing import Any

from django import http
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views import generic
from horizon import exceptions, messages
from openstack_dashboard.api import nova

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common, modal
from t4o_dashboard.content.mounts import forms as mount_forms
from t4o_dashboard.content.mounts import tables as mount_tables

LOG = logging.getLogger(__name__)
DETAIL_URL = "horizon:project:backup_snapshots:detail"


def server_names(request: Any) -> dict[str, str]:
    """The project's servers by id; empty when Nova cannot be read (the ids are shown instead)."""
    try:
        servers, _more = nova.server_list(request)
    except Exception:
        LOG.info("cannot list servers for the mounts' names", exc_info=True)
        return {}
    return {s.id: s.name for s in servers}


def snapshot_mount(request: Any, snapshot_id: str) -> tuple[Any, bool]:
    """The snapshot's live mount (or None), and whether the mounts could be read at all."""
    try:
        mounts = workloadmgr.mounted_list(request)
    except Exception:
        LOG.info("cannot list mounted snapshots", exc_info=True)
        return None, False
    return next((m for m in mounts if m.snapshot_id == snapshot_id), None), True


def mount_context(request: Any, snapshot: Any) -> dict[str, Any]:
    """What the snapshot's page shows of its mount: the recovery VM and devices, or the Mount button."""
    if snapshot.status != "available":
        return {}
    mount, known = snapshot_mount(request, snapshot.id)
    if not known:
        return {"mount_unknown": True}
    if mount is None:
        return {"mount_url": reverse("horizon:project:backup_snapshots:mount", args=[snapshot.id])}
    return {
        "mount": mount,
        "mount_vm_name": server_names(request).get(mount.mount_vm_id) or mount.mount_vm_id,
        "mount_vm_url": reverse("horizon:project:instances:detail", args=[mount.mount_vm_id]),
        "mount_devices": mount_forms.devices_text(mount),
        "mounted_at": common.timestamp(mount.mounted_at),
        "mount_expires_at": common.timestamp(mount.expires_at),
        "dismount_url": reverse("horizon:project:backup_snapshots:dismount", args=[snapshot.id]),
    }


class MountView(modal.ModalForm):
    form_class = mount_forms.MountForm
    modal_id = "mount_snapshot_modal"
    page_title = _("Mount Snapshot")
    submit_label = _("Mount")
    submit_url_name = "horizon:project:backup_snapshots:mount"
    success_url_name = DETAIL_URL
    help_text = _(
        "Attaches the snapshot's disks read-only to a server of the project, where its files can be read "
        "with the tools of that server. The disks are detached on Dismount, or once nothing read them "
        "for a while."
    )

    def get_initial(self) -> dict[str, Any]:
        snapshot_id = self.kwargs["snapshot_id"]
        snapshot = common.get_or_redirect(
            self.request,
            _("Unable to show the snapshot."),
            "horizon:project:backup_snapshots:index",
            lambda: workloadmgr.snapshot_get(self.request, snapshot_id),
        )
        own = [vm["id"] for vm in snapshot.instances or [] if vm.get("id")]
        return {"snapshot_id": snapshot_id, "own_vm_ids": own}


class DismountView(generic.View):
    """The Dismount button of a snapshot's page (a POST); back to the page with the outcome."""

    def post(self, request: Any, snapshot_id: str) -> http.HttpResponse:
        back = reverse(DETAIL_URL, args=[snapshot_id])
        try:
            workloadmgr.snapshot_dismount(request, snapshot_id)
        except Exception:
            exceptions.handle(request, _("Unable to dismount the snapshot."), redirect=back)
            raise  # handle() raised the redirect already; this is not reached
        messages.success(request, _("The snapshot is dismounted."))
        return http.HttpResponseRedirect(back)


class MountedView(common.TableView):
    """The project's mounted snapshots."""

    table_class = mount_tables.MountsTable
    page_title = _("Mounted Snapshots")

    def get_data(self) -> list[Any]:
        mounts = common.list_or_empty(
            self.request,
            _("Unable to list the mounted snapshots."),
            lambda: workloadmgr.mounted_list(self.request),
        )
        if mounts:
            names = server_names(self.request)
            for mount in mounts:
                mount.server_name = names.get(mount.mount_vm_id)
        return mounts
