"""Snapshots of the project's workloads, a snapshot's details with its restores, and the restore forms."""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import requests
from django import http
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext_lazy as _
from django.views import generic
from horizon import exceptions, tables

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common, modal
from t4o_dashboard.content.mounts import views as mount_views
from t4o_dashboard.content.restores import tables as restore_tables
from t4o_dashboard.content.snapshots import forms as snapshot_forms
from t4o_dashboard.content.snapshots import hooks as snapshot_hooks
from t4o_dashboard.content.snapshots import tables as snapshot_tables

LOG = logging.getLogger(__name__)
INDEX_URL = "horizon:project:backup_snapshots:index"
BROWSE_URL = "horizon:project:backup_snapshots:browse"
DOWNLOAD_CHUNK = 64 * 1024


def with_workload_names(request: Any, snapshots: list[Any]) -> list[Any]:
    names = common.names_by_id(lambda: workloadmgr.workload_list(request))
    for snap in snapshots:
        snap.workload_name = names.get(snap.workload_id)
    return snapshots


class IndexView(common.TableView):
    """Every snapshot of the project, or of one workload with ``?workload_id=``."""

    table_class = snapshot_tables.SnapshotsTable
    page_title = _("Snapshots")

    def get_data(self) -> list[Any]:
        try:
            snaps = workloadmgr.snapshot_list(self.request, workload_id=self.request.GET.get("workload_id"))
        except Exception:
            exceptions.handle(self.request, _("Unable to list snapshots."))
            return []
        snaps.sort(key=lambda s: s.created_at or "", reverse=True)
        return with_workload_names(self.request, snaps)


def _get_snapshot(request: Any, snapshot_id: str) -> Any:
    return common.get_or_redirect(
        request,
        _("Unable to show the snapshot."),
        INDEX_URL,
        lambda: workloadmgr.snapshot_get(request, snapshot_id),
    )


def _disk_text(disk: Any) -> str:
    """'vdb: volume ux-data-1 (1.0 GiB)', 'vda: image disk (1.0 GiB)'."""
    if not isinstance(disk, dict):
        return str(disk)
    label = disk.get("target") or disk.get("device") or disk.get("name") or disk.get("id") or "?"
    volume = disk.get("volume_name") or disk.get("volume_id")
    if volume:
        label = f"{label}: {_('volume')} {volume}"
    elif disk.get("target") or disk.get("device"):
        label = f"{label}: {_('image disk')}"
    return f"{label} ({common.size(disk.get('size'))})" if disk.get("size") else str(label)


def _disk_key(disk: Any) -> str | None:
    """What the file recovery calls take as a disk: its target name (vda), else its volume."""
    if not isinstance(disk, dict):
        return None
    return disk.get("target") or disk.get("device") or disk.get("volume_id") or None


def _disks(snapshot: Any, vm: dict[str, Any]) -> list[dict[str, Any]]:
    """A VM's disks with the link to browse their files (an available snapshot's only)."""
    found = []
    definition = vm.get("metadata") if isinstance(vm.get("metadata"), dict) else {}
    recorded = [*(definition.get("volumes") or []), *(definition.get("detached_volumes") or [])]
    names = {v.get("id"): v.get("name") for v in recorded if isinstance(v, dict) and v.get("name")}
    for disk in vm.get("vdisks") or []:
        if isinstance(disk, dict) and disk.get("volume_id") in names:
            disk = {**disk, "volume_name": names[disk["volume_id"]]}
        key = _disk_key(disk)
        browse_url = None
        if key and vm.get("id") and snapshot.status == "available":
            browse_url = reverse(BROWSE_URL, args=[snapshot.id, vm["id"], key])
        found.append({"text": _disk_text(disk), "browse_url": browse_url})
    return found


class DetailView(tables.DataTableView):
    """A snapshot's VMs and disks, what their guest hooks did, and the restores made from it (their
    progress refreshes in place)."""

    table_class = restore_tables.RestoresTable
    template_name = "t4o_dashboard/snapshot_detail.html"
    page_title = _("Snapshot {{ snapshot_name }}")

    def get_snapshot(self) -> Any:
        if not hasattr(self, "_snapshot"):
            self._snapshot = _get_snapshot(self.request, self.kwargs["snapshot_id"])
        return self._snapshot

    def get_data(self) -> list[Any]:
        snapshot = self.get_snapshot()
        try:
            restores = workloadmgr.restore_list(self.request, snapshot_id=snapshot.id)
        except Exception:
            exceptions.handle(self.request, _("Unable to list the snapshot's restores."))
            return []
        for restore in restores:
            restore.snapshot_name = snapshot.name
        return restores

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        snapshot = self.get_snapshot()
        context["snapshot"] = snapshot
        context["snapshot_name"] = common.snapshot_name(snapshot)
        context["snapshot_type"] = common.choice_text(snapshot.snapshot_type, common.SNAPSHOT_TYPE_DISPLAY)
        context["status"] = common.choice_text(snapshot.status, common.JOB_STATUS_DISPLAY)
        context["progress"] = common.progress(snapshot)
        context["size"] = snapshot_tables.stored_size(snapshot)
        context["provisioned"] = snapshot_tables.provisioned_size(snapshot)
        # The snapshots table's row actions (restores, cancel, delete), posted to its page that runs them.
        context["actions"] = snapshot_tables.SnapshotsTable(self.request).render_row_actions(snapshot)
        context["url"] = reverse(INDEX_URL)
        context["created"] = common.timestamp(snapshot.created_at)
        context["workload_url"] = reverse("horizon:project:workloads:detail", args=[snapshot.workload_id])
        workload_name = common.name_or_none(workloadmgr.workload_get, self.request, snapshot.workload_id)
        context["workload_name"] = snapshot.workload_id if workload_name is None else workload_name
        if snapshot.status == "available":
            search_url = reverse("horizon:project:workloads:file_search", args=[snapshot.workload_id])
            context["file_search_url"] = f"{search_url}?{urlencode({'snapshot_id': snapshot.id})}"
        context.update(mount_views.mount_context(self.request, snapshot))
        context["vms"] = [
            {
                "name": vm.get("name") or "-",
                "id": vm.get("id"),
                "status": common.choice_text(vm.get("status"), common.JOB_STATUS_DISPLAY),
                "size_text": common.size(vm.get("size")),
                "disks": _disks(snapshot, vm),
                "hooks": snapshot_hooks.vm_hooks(vm),
            }
            for vm in snapshot.instances or []
        ]
        context["hook_vms"] = [vm for vm in context["vms"] if vm["hooks"] is not None]
        return context


class _RestoreView(modal.ModalForm):
    success_url = reverse_lazy("horizon:project:backup_restores:index")

    def get_initial(self) -> dict[str, Any]:
        snapshot_id = self.kwargs["snapshot_id"]
        snapshot = _get_snapshot(self.request, snapshot_id)
        vms = [
            {
                "id": vm["id"],
                "name": vm.get("name"),
                "vdisks": vm.get("vdisks"),
                "metadata": vm.get("metadata"),
            }
            for vm in snapshot.instances or []
            if vm.get("id")
        ]
        return {"snapshot_id": snapshot_id, "vms": vms}


class SelectiveRestoreView(_RestoreView):
    form_class = snapshot_forms.SelectiveRestoreForm
    modal_id = "selective_restore_modal"
    page_title = _("Selective Restore")
    submit_label = _("Restore")
    submit_url_name = "horizon:project:backup_snapshots:selective_restore"
    help_text = _(
        "Creates new VMs from the snapshot. For each VM: whether to restore it, its new name, its flavor and "
        "the network its interfaces join; for each volume: whether to restore it, its volume type and the "
        "Cinder availability zone it is created in. "
        "Restored VMs and volumes are named after the original and the snapshot unless you name them."
    )


class InplaceRestoreView(_RestoreView):
    form_class = snapshot_forms.InplaceRestoreForm
    modal_id = "inplace_restore_modal"
    page_title = _("In-place Restore")
    submit_label = _("Restore in place")
    submit_url_name = "horizon:project:backup_snapshots:inplace_restore"
    help_text = _("Writes the snapshot's data back onto the existing VMs' disks. What they hold now is lost.")


def _clean_path(raw: str | None) -> str:
    """An absolute, normalised path inside the snapshot's filesystem ('/' by default)."""
    path = posixpath.normpath("/" + (raw or "/").lstrip("/"))
    return "/" if path in ("/", "//", ".") else path


def _browse_url(kwargs: dict[str, Any], path: str, partition: Any = None) -> str:
    url = reverse(BROWSE_URL, args=[kwargs["snapshot_id"], kwargs["vm_id"], kwargs["disk"]])
    query = {"path": path}
    if partition not in (None, ""):
        query["partition"] = str(partition)
    return f"{url}?{urlencode(query)}"


def _breadcrumb(kwargs: dict[str, Any], path: str, partition: Any) -> list[dict[str, str]]:
    """'/', 'etc', 'ssh' of /etc/ssh, each with the link to its directory."""
    crumbs = [{"name": "/", "url": _browse_url(kwargs, "/", partition)}]
    parts = [p for p in path.split("/") if p]
    for i, part in enumerate(parts):
        crumbs.append({"name": part, "url": _browse_url(kwargs, "/" + "/".join(parts[: i + 1]), partition)})
    return crumbs


def _volume_text(volume: dict[str, Any]) -> str:
    """'Partition 1: ext4, 1.0 GiB (root)'; 0 is the whole disk, 101.. LVM logical volumes."""
    number = volume.get("partition")
    if number == 0:
        label = str(_("Whole disk"))
    elif isinstance(number, int) and number > 100:
        label = str(_("Logical volume %s")) % (volume.get("name") or number)
    else:
        label = str(_("Partition %s")) % number
    text = f"{label}: {volume.get('filesystem') or _('no filesystem')}, {common.size(volume.get('size'))}"
    if volume.get("name") and not (isinstance(number, int) and number > 100):
        text += f" ({volume['name']})"
    return text


class BrowseView(tables.DataTableView):
    """A directory of a snapshot disk, read from the backup target: its entries, links into directories
    and downloads. ``?path=`` and ``?partition=`` choose the directory and the volume."""

    table_class = snapshot_tables.FilesTable
    template_name = "t4o_dashboard/snapshot_browse.html"
    page_title = _("Files of {{ vm_name }}: {{ disk }}")

    def _query(self) -> tuple[str, str | None]:
        return _clean_path(self.request.GET.get("path")), self.request.GET.get("partition") or None

    def get_data(self) -> list[Any]:
        path, partition = self._query()
        self.listing = None
        table = self.get_table()
        table.partition = partition
        try:
            self.listing = workloadmgr.snapshot_browse(
                self.request,
                self.kwargs["snapshot_id"],
                self.kwargs["vm_id"],
                self.kwargs["disk"],
                path,
                partition,
            )
        except Exception:
            exceptions.handle(self.request, _("Unable to list the files of %s.") % path)
            return []
        table.partition = self.listing.partition
        here = self.listing.path or path
        entries = self.listing.entries
        if here != "/":
            parent = workloadmgr.FileEntry(
                {
                    "name": "..",
                    "path": posixpath.dirname(here),
                    "type": "directory",
                    "size": None,
                    "mtime": None,
                }
            )
            entries.insert(0, parent)
        for entry in entries:
            entry.browse_url = _browse_url(self.kwargs, entry.path, table.partition)
        return entries

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        path, partition = self._query()
        listing = getattr(self, "listing", None)
        if listing is not None:
            path, partition = listing.path or path, listing.partition
        snapshot_id, vm_id, disk = self.kwargs["snapshot_id"], self.kwargs["vm_id"], self.kwargs["disk"]
        vm_name = vm_id
        try:
            snapshot = workloadmgr.snapshot_get(self.request, snapshot_id)
        except Exception:
            snapshot = None  # the listing's own error (if any) is the message shown
        if snapshot is not None:
            vm_name = next(
                (vm.get("name") for vm in snapshot.instances or [] if vm.get("id") == vm_id), vm_id
            )
        volumes = list(listing.volumes or []) if listing is not None else []
        context.update(
            {
                "snapshot_id": snapshot_id,
                "snapshot_name": snapshot.name if snapshot is not None and snapshot.name else snapshot_id,
                "snapshot_url": reverse("horizon:project:backup_snapshots:detail", args=[snapshot_id]),
                "vm_name": vm_name or vm_id,
                "disk": disk,
                "path": path,
                "breadcrumb": _breadcrumb(self.kwargs, path, partition),
                "filesystem": listing.filesystem if listing is not None else None,
                "partition": "" if partition is None else str(partition),
                "volumes": [{"value": str(v.get("partition")), "text": _volume_text(v)} for v in volumes],
                "browse_base_url": reverse(BROWSE_URL, args=[snapshot_id, vm_id, disk]),
                "download_url": snapshot_tables.files_url(
                    self.get_table(), "horizon:project:backup_snapshots:download", path
                )
                if listing is not None
                else None,
            }
        )
        return context


class _Stream:
    """The API's response body in pieces; Django closes it (and so the API's connection) when done."""

    def __init__(self, upstream: Any) -> None:
        self.upstream = upstream

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self.upstream.iter_content(DOWNLOAD_CHUNK)
        except requests.RequestException as exc:
            # The headers are sent: the browser sees a short download (a file's length tells it so).
            LOG.warning("download from workloadmgr broke off: %s", exc)

    def close(self) -> None:
        self.upstream.close()


class DownloadView(generic.View):
    """A file of a snapshot disk (a directory as a tar) streamed from the API to the browser as it
    comes, never held whole in memory. An error goes back to the browse page as a message."""

    PASSED_HEADERS = ("Content-Length", "Content-Disposition")

    def get(self, request: Any, snapshot_id: str, vm_id: str, disk: str) -> http.HttpResponseBase:
        path = _clean_path(request.GET.get("path"))
        partition = request.GET.get("partition") or None
        try:
            upstream = workloadmgr.snapshot_download(request, snapshot_id, vm_id, disk, path, partition)
        except Exception:
            back = _browse_url(self.kwargs, posixpath.dirname(path), partition)
            exceptions.handle(request, _("Unable to download %s.") % path, redirect=back)
            raise  # handle() raised the redirect already; this is not reached
        content_type = upstream.headers.get("Content-Type") or "application/octet-stream"
        response = http.StreamingHttpResponse(_Stream(upstream), content_type=content_type)
        for name in self.PASSED_HEADERS:
            if upstream.headers.get(name):
                response[name] = upstream.headers[name]
        return response
