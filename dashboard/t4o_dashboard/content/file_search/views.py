"""File search of a workload: the form, then the results page that follows the search until it ends.

The results page asks for its own results fragment (``?fragment=1``) every few seconds while the search
runs and puts it in place, so progress shows without reloading; once the search is completed each match
links to its directory in the snapshot's file browser and, for a file or directory, to its download.
"""

from __future__ import annotations

import logging
import posixpath
from typing import Any
from urllib.parse import urlencode

from django import http
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from horizon import exceptions
from horizon import views as horizon_views

from t4o_dashboard.api import workloadmgr
from t4o_dashboard.content import common, modal
from t4o_dashboard.content.file_search import forms as search_forms

LOG = logging.getLogger(__name__)
WORKLOAD_URL = "horizon:project:workloads:detail"
RESULTS_URL = "horizon:project:workloads:file_search_results"
SNAPSHOT_URL = "horizon:project:backup_snapshots:detail"
BROWSE_URL = "horizon:project:backup_snapshots:browse"
DOWNLOAD_URL = "horizon:project:backup_snapshots:download"
POLL_MS = 2000  # how often the results page asks again while the search runs
RECENT_SEARCHES = 10  # listed under the form
ROWS_PER_VOLUME = 500  # matches shown per volume of a snapshot (the page stays light); the count is all
FRAGMENT_TEMPLATE = "t4o_dashboard/_file_search_results.html"


def _workload(request: Any, workload_id: str) -> Any:
    return common.get_or_redirect(
        request,
        _("Unable to show the workload."),
        "horizon:project:workloads:index",
        lambda: workloadmgr.workload_get(request, workload_id),
    )


def vm_name(workload: Any, vm_id: str) -> str:
    for vm in workload.instances or []:
        if vm.get("id") == vm_id:
            return str(vm.get("name") or vm_id)
    return vm_id


class FileSearchView(modal.ModalForm):
    """The search form on a page of its own; ``?snapshot_id=`` ticks one snapshot (the snapshot page's
    link)."""

    form_class = search_forms.FileSearchForm
    template_name = "t4o_dashboard/file_search.html"
    modal_id = "file_search_modal"
    page_title = _("File Search")
    submit_label = _("Search")
    submit_url_name = "horizon:project:workloads:file_search"
    help_text = _(
        "Finds files in the snapshots of one VM without restoring them: every available snapshot, the "
        "ticked ones or those taken between the dates. The results list each match with its size and time, "
        "a link to its directory in the snapshot and a download."
    )

    def workload(self) -> Any:
        if not hasattr(self, "_workload"):
            self._workload = _workload(self.request, self.kwargs["workload_id"])
        return self._workload

    def get_initial(self) -> dict[str, Any]:
        workload = self.workload()
        try:
            snapshots = workloadmgr.snapshot_list(self.request, workload_id=workload.id)
        except Exception:
            exceptions.handle(self.request, _("Unable to list the workload's snapshots."))
            snapshots = []
        available = sorted(
            (s for s in snapshots if s.status == "available"), key=lambda s: s.created_at or "", reverse=True
        )
        vms = [vm for vm in workload.instances or [] if vm.get("id")]
        initial: dict[str, Any] = {"workload_id": workload.id, "vms": vms, "snapshots": available}
        if vms:
            initial["vm_id"] = vms[0]["id"]
        chosen = self.request.GET.get("snapshot_id")
        if chosen and any(s.id == chosen for s in available):
            initial["snapshot_ids"] = [chosen]
        return initial

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["recent_searches"] = recent_searches(self.request, self.workload())
        return context

    def get_success_url_from_handled(self, handled: Any) -> str:
        return reverse(RESULTS_URL, args=[self.kwargs["workload_id"], handled.id])

    def get_success_url(self) -> str:
        return reverse(WORKLOAD_URL, args=[self.kwargs["workload_id"]])


def recent_searches(request: Any, workload: Any) -> list[dict[str, Any]]:
    """The project's latest searches of the workload's VMs, each linked to its results; none when the
    list cannot be read (the form works without it)."""
    try:
        searches = workloadmgr.file_search_list(request)
    except Exception:
        LOG.info("cannot list file searches", exc_info=True)
        return []
    vm_ids = {vm.get("id") for vm in workload.instances or []}
    mine = [s for s in searches if s.vm_id in vm_ids]
    mine.sort(key=lambda s: s.created_at or "", reverse=True)
    return [
        {
            "id": s.id,
            "filepath": s.filepath,
            "vm_name": vm_name(workload, s.vm_id),
            "created": common.timestamp(s.created_at) or "-",
            "status": s.status,
            "url": reverse(RESULTS_URL, args=[workload.id, s.id]),
        }
        for s in mine[:RECENT_SEARCHES]
    ]


def disk_file_url(
    url_name: str, snapshot_id: str, vm_id: str, disk: str, path: str, partition: Any = None
) -> str:
    """The file browser's (or the download's) URL of ``path`` on a snapshot disk's volume."""
    url = reverse(url_name, args=[snapshot_id, vm_id, disk])
    query = {"path": path}
    if partition not in (None, ""):
        query["partition"] = str(partition)
    return f"{url}?{urlencode(query)}"


def volume_text(disk: dict[str, Any]) -> str:
    """'vda, partition 1 (ext4)', 'vdb, logical volume vg/lv (xfs)', 'vda (ext4)' for a bare disk."""
    text = str(disk.get("disk") or "?")
    partition = disk.get("partition")
    if isinstance(partition, str) and partition:
        text += ", " + str(_("logical volume %s")) % partition
    elif isinstance(partition, int) and partition > 0:
        text += ", " + str(_("partition %s")) % partition
    if disk.get("filesystem"):
        text += f" ({disk['filesystem']})"
    return text


def _match(snapshot_id: str, vm_id: str, disk: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    path = str(entry.get("path") or "/")
    kind = entry.get("type")
    # A directory opens on itself; anything else on the directory that holds it.
    where = path if kind == "directory" else posixpath.dirname(path) or "/"
    key, partition = str(disk.get("disk") or ""), disk.get("partition")
    return {
        "path": path,
        "type": kind or "-",
        "size": "-" if kind == "directory" or entry.get("size") is None else common.size(entry["size"]),
        "mtime": common.epoch_time(entry.get("mtime")),
        "link_target": entry.get("link_target") or "",
        "browse_url": disk_file_url(BROWSE_URL, snapshot_id, vm_id, key, where, partition),
        "download_url": disk_file_url(DOWNLOAD_URL, snapshot_id, vm_id, key, path, partition)
        if kind in ("file", "directory")
        else None,
    }


def result_groups(search: Any) -> list[dict[str, Any]]:
    """The search's results per snapshot (newest first, as the API gives them), then per volume."""
    groups = []
    for snap in search.json_resp or []:
        snapshot_id = str(snap.get("snapshot_id") or "")
        volumes: list[dict[str, Any]] = []
        for disk in snap.get("disks") or []:
            entries = disk.get("entries") or []
            volumes.append(
                {
                    "text": volume_text(disk),
                    "truncated": bool(disk.get("truncated")),
                    "count": len(entries),
                    "hidden": max(0, len(entries) - ROWS_PER_VOLUME),
                    "matches": [
                        _match(snapshot_id, search.vm_id, disk, e) for e in entries[:ROWS_PER_VOLUME]
                    ],
                }
            )
        groups.append(
            {
                "id": snapshot_id,
                "name": snap.get("snapshot_name") or snapshot_id[:8],
                "url": reverse(SNAPSHOT_URL, args=[snapshot_id]) if snapshot_id else None,
                "created": common.timestamp(snap.get("snapshot_created_at")) or "-",
                "status": snap.get("status") or "-",
                "error_msg": snap.get("error_msg"),
                "volumes": [v for v in volumes if v["count"]],
                "count": sum(v["count"] for v in volumes),
            }
        )
    return groups


def fragment_context(search: Any, workload_id: str) -> dict[str, Any]:
    groups = result_groups(search) if search.status == "completed" else []
    return {
        "search": search,
        "progress": int(search.progress_percent or 0),
        "groups": groups,
        "match_count": sum(g["count"] for g in groups),
        "poll_url": reverse(RESULTS_URL, args=[workload_id, search.id]) + "?fragment=1",
        "poll_ms": POLL_MS,
        "finished": common.timestamp(search.finished_at),
    }


class FileSearchResultsView(horizon_views.HorizonTemplateView):
    """What the search asked, its progress while it runs, then its matches per snapshot and volume."""

    template_name = "t4o_dashboard/file_search_results.html"
    page_title = _("File Search: {{ search.filepath }}")

    def get(self, request: Any, *args: Any, **kwargs: Any) -> http.HttpResponse:
        if request.GET.get("fragment"):
            return self.fragment(request)
        return super().get(request, *args, **kwargs)

    def fragment(self, request: Any) -> http.HttpResponse:
        """The results part alone, for the page's polling; an API failure is a 502 the page retries."""
        try:
            search = workloadmgr.file_search_get(request, self.kwargs["search_id"])
        except Exception as exc:
            LOG.info("file search %s: %s", self.kwargs["search_id"], exc)
            return http.HttpResponse(str(exc), status=502, content_type="text/plain")
        context = fragment_context(search, self.kwargs["workload_id"])
        return http.HttpResponse(render_to_string(FRAGMENT_TEMPLATE, context, request=request))

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        workload_id = self.kwargs["workload_id"]
        back = reverse(WORKLOAD_URL, args=[workload_id])
        try:
            search = workloadmgr.file_search_get(self.request, self.kwargs["search_id"])
        except Exception:
            # handle() raises the redirect: the workload's page shows the message.
            exceptions.handle(self.request, _("Unable to show the file search."), redirect=back)
            raise  # handle() raised the redirect already; this is not reached
        workload = _workload(self.request, workload_id)
        context = super().get_context_data(**kwargs)
        context.update(fragment_context(search, workload_id))
        context.update(
            workload=workload,
            workload_url=back,
            vm_name=vm_name(workload, search.vm_id),
            created=common.timestamp(search.created_at),
            scope=scope_text(search),
            new_search_url=reverse("horizon:project:workloads:file_search", args=[workload_id]),
        )
        return context


def scope_text(search: Any) -> str:
    """Which snapshots were asked for: 'every available snapshot', '2 chosen snapshots', dates."""
    ids = search.snapshot_ids or []
    if ids:
        text = ngettext("%d chosen snapshot", "%d chosen snapshots", len(ids)) % len(ids)
    else:
        text = str(_("every available snapshot"))
    if search.date_from or search.date_to:
        text += ", " + str(_("taken %(from)s to %(to)s")) % {
            "from": common.timestamp(search.date_from) or "…",
            "to": common.timestamp(search.date_to) or "…",
        }
    return text
