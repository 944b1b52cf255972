"""The snapshots table with the restore actions: one-click (confirmed), selective and in-place."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from horizon import tables

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common


class _Restore:
    """The restore actions: only an available snapshot can be restored."""

    def allowed(self, request: Any, snapshot: Any = None) -> bool:
        return snapshot is None or snapshot.status == "available"


class OneClickRestore(_Restore, tables.BatchAction):
    name = "oneclick_restore"
    help_text = _("The snapshot's VMs are created again as they were when it was taken.")
    icon = "repeat"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.action_type = "danger"  # Horizon asks for confirmation before danger actions

    @staticmethod
    def action_present(count: int) -> Any:
        return ngettext_lazy("One-click Restore", "One-click Restore", count)

    @staticmethod
    def action_past(count: int) -> Any:
        return ngettext_lazy("Started a one-click restore of", "Started one-click restores of", count)

    def action(self, request: Any, obj_id: str) -> None:
        workloadmgr.restore_create(
            request, obj_id, "oneclick", name=_restore_name(self, obj_id, _("One-click"))
        )

    def get_success_url(self, request: Any = None) -> str:
        return reverse("horizon:project:backup_restores:index")


def _restore_name(action: Any, snapshot_id: str, kind: Any) -> str:
    """'One-click restore of <the snapshot's name>', for the restore list."""
    snapshot = action.table.get_object_by_id(snapshot_id)
    shown = common.snapshot_name(snapshot) if snapshot is not None else snapshot_id
    return str(_("%(kind)s restore of %(snapshot)s") % {"kind": kind, "snapshot": shown})


class _RestoreWithoutVms(_Restore, tables.BatchAction):
    """A restore of a part of the snapshot's cloud setup only, no VM: the API's restore types
    network-topology and security-groups."""

    restore_type = ""
    kind: Any = ""

    def action(self, request: Any, obj_id: str) -> None:
        workloadmgr.restore_create(
            request, obj_id, self.restore_type, name=_restore_name(self, obj_id, self.kind)
        )

    def get_success_url(self, request: Any = None) -> str:
        return reverse("horizon:project:backup_restores:index")


class NetworkTopologyRestore(_RestoreWithoutVms):
    name = "network_topology_restore"
    restore_type = "network-topology"
    kind = _("Network topology")
    help_text = _(
        "The snapshot's networks, subnets, routers and router interfaces are re-created where missing "
        "(existing ones are reused); no VM is created."
    )
    icon = "sitemap"

    @staticmethod
    def action_present(count: int) -> Any:
        return ngettext_lazy("Restore Network Topology", "Restore Network Topologies", count)

    @staticmethod
    def action_past(count: int) -> Any:
        return ngettext_lazy(
            "Started a network topology restore of", "Started network topology restores of", count
        )


class SecurityGroupsRestore(_RestoreWithoutVms):
    name = "security_groups_restore"
    restore_type = "security-groups"
    kind = _("Security groups")
    help_text = _(
        "The snapshot's security groups are created with their rules (a group with the same name and rules "
        "is reused); no VM is created."
    )
    icon = "shield"

    @staticmethod
    def action_present(count: int) -> Any:
        return ngettext_lazy("Restore Security Groups", "Restore Security Groups", count)

    @staticmethod
    def action_past(count: int) -> Any:
        return ngettext_lazy(
            "Started a security groups restore of", "Started security groups restores of", count
        )


class SelectiveRestore(_Restore, tables.LinkAction):
    name = "selective_restore"
    verbose_name = _("Selective Restore")
    url = "horizon:project:backup_snapshots:selective_restore"
    classes = ("ajax-modal",)


class InplaceRestore(_Restore, tables.LinkAction):
    name = "inplace_restore"
    verbose_name = _("In-place Restore")
    url = "horizon:project:backup_snapshots:inplace_restore"
    classes = ("ajax-modal",)


class MountedSnapshots(tables.LinkAction):
    name = "mounted"
    verbose_name = _("Mounted Snapshots")
    url = "horizon:project:backup_snapshots:mounted"
    icon = "hdd-o"


class CancelSnapshot(common.CancelJob):
    help_text = _("The snapshot stops at its next step and is marked cancelled.")

    @staticmethod
    def action_present(count: int) -> Any:
        return ngettext_lazy("Cancel Snapshot", "Cancel Snapshots", count)

    @staticmethod
    def action_past(count: int) -> Any:
        return ngettext_lazy("Cancelled Snapshot", "Cancelled Snapshots", count)

    def action(self, request: Any, obj_id: str) -> None:
        workloadmgr.snapshot_cancel(request, obj_id)


class DeleteSnapshot(common.DeleteJob):
    @staticmethod
    def action_present(count: int) -> Any:
        return ngettext_lazy("Delete Snapshot", "Delete Snapshots", count)

    @staticmethod
    def action_past(count: int) -> Any:
        return ngettext_lazy("Deleted Snapshot", "Deleted Snapshots", count)

    def delete(self, request: Any, obj_id: str) -> None:
        workloadmgr.snapshot_delete(request, obj_id)


class UpdateSnapshotRow(tables.Row):
    ajax = True

    def get_data(self, request: Any, snapshot_id: str) -> Any:
        snapshot = workloadmgr.snapshot_get(request, snapshot_id)
        # The refreshed row names its workload like the page did, not by a short id.
        snapshot.workload_name = common.name_or_none(workloadmgr.workload_get, request, snapshot.workload_id)
        return snapshot


def _workload_link(snapshot: Any) -> str:
    return reverse("horizon:project:workloads:detail", args=[snapshot.workload_id])


def stored_size(snapshot: Any) -> str:
    """What the snapshot stored on the backup target (its ``uploaded_size``)."""
    return common.size(snapshot.stored_bytes)


def provisioned_size(snapshot: Any) -> str:
    """The size of the disks the snapshot covers (its ``size``), whatever it stored."""
    return common.size(snapshot.size)


class SnapshotsTable(tables.DataTable):
    # A plain column: names break at spaces, not inside words.
    name = tables.Column(
        common.snapshot_name, verbose_name=_("Name"), link="horizon:project:backup_snapshots:detail"
    )
    workload = tables.Column(
        lambda s: getattr(s, "workload_name", None) or s.workload_id[:8],
        verbose_name=_("Workload"),
        link=_workload_link,
    )
    snapshot_type = tables.Column(
        "snapshot_type", verbose_name=_("Type"), display_choices=tuple(common.SNAPSHOT_TYPE_DISPLAY.items())
    )
    created = tables.Column("created_at", verbose_name=_("Created"), filters=(common.timestamp,))
    size = tables.Column(
        stored_size, verbose_name=_("Stored"), help_text=_("What the snapshot stored on the backup target.")
    )
    provisioned = tables.Column(
        provisioned_size,
        verbose_name=_("Disks"),
        help_text=_("The provisioned size of the disks the snapshot covers."),
    )
    progress = tables.Column(common.progress, verbose_name=_("Progress"))
    status = common.job_status_column()

    class Meta:
        name = "snapshots"
        verbose_name = _("Snapshots")
        no_data_message = _(
            "No snapshots yet. To take one, open Backups > Workloads and choose Snapshot Now on a workload; "
            "a workload with a schedule takes them by itself."
        )
        status_columns = ("status",)
        row_class = UpdateSnapshotRow
        table_actions = (MountedSnapshots, DeleteSnapshot)
        row_actions = (
            OneClickRestore,
            SelectiveRestore,
            InplaceRestore,
            NetworkTopologyRestore,
            SecurityGroupsRestore,
            CancelSnapshot,
            DeleteSnapshot,
        )

    def get_object_display(self, snapshot: Any) -> str:
        return common.snapshot_name(snapshot)


# ------------------------------------------------------------------ a snapshot disk's files
FILE_ICONS = {"directory": "fa-folder-o", "file": "fa-file-o", "symlink": "fa-link"}


def files_url(table: Any, url_name: str, path: str) -> str:
    """The browse or download page of ``path`` on the table's disk and volume."""
    kw = table.kwargs
    url = reverse(url_name, args=[kw["snapshot_id"], kw["vm_id"], kw["disk"]])
    query = {"path": path}
    if getattr(table, "partition", None) not in (None, ""):
        query["partition"] = str(table.partition)
    return f"{url}?{urlencode(query)}"


def _type_cell(entry: Any) -> str:
    icon = FILE_ICONS.get(entry.type, "fa-question")
    return format_html('<span class="fa {}" aria-hidden="true"></span> {}', icon, entry.type or "-")


def _size_cell(entry: Any) -> str:
    return "-" if entry.type == "directory" or entry.size is None else common.size(entry.size)


class DownloadEntry(tables.LinkAction):
    """A file as it is, a directory as a tar stream."""

    name = "download"
    verbose_name = _("Download")
    icon = "download"

    def allowed(self, request: Any, entry: Any = None) -> bool:
        return entry is not None and entry.name != ".." and entry.type in ("file", "directory")

    def update(self, request: Any, entry: Any) -> None:
        if entry is not None and entry.type == "directory":
            self.verbose_name = _("Download (tar)")

    def get_link_url(self, entry: Any = None) -> str:
        return files_url(self.table, "horizon:project:backup_snapshots:download", entry.path)


class FilesTable(tables.DataTable):
    name = tables.WrappingColumn(
        "name",
        verbose_name=_("Name"),
        link=lambda entry: entry.browse_url if entry.type == "directory" else None,
    )
    kind = tables.Column(_type_cell, verbose_name=_("Type"))
    size = tables.Column(_size_cell, verbose_name=_("Size"))
    mode = tables.Column("mode", verbose_name=_("Mode"), empty_value="-")
    mtime = tables.Column(lambda e: common.epoch_time(e.mtime), verbose_name=_("Modified (UTC)"))
    link_target = tables.Column("link_target", verbose_name=_("Link target"), empty_value="")

    def get_object_id(self, entry: Any) -> str:
        return entry.path

    def get_object_display(self, entry: Any) -> str:
        return entry.name

    class Meta:
        name = "files"
        verbose_name = _("Files")
        row_actions = (DownloadEntry,)
