"""The workloadmgr REST API v1, called with the logged-in user's token at the catalog's ``workloads`` URL.

Every failure becomes a Horizon exception that carries the API's own message, so the views show it as a
Horizon message instead of a server error page.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import requests
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from horizon import exceptions as horizon_exceptions
from openstack_dashboard.api import base

LOG = logging.getLogger(__name__)

SERVICE_TYPE = "workloads"
TIMEOUT = 30
MAX_PAGES = 1000  # a list never follows more ``next`` links than this (a guard against a link loop)
WORKLOADS_BINARY = "workloadmgr-workloads"  # the only service a node can be disabled or enabled for
# Job states in which a snapshot or restore is still running (the table rows poll while in them).
RUNNING = ("queued", "executing", "cancelling")


class WorkloadmgrError(horizon_exceptions.RecoverableError):
    """An error answer (or no answer) from workloadmgr; its text is shown to the user."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class WorkloadmgrNotFound(WorkloadmgrError, horizon_exceptions.NotFound):
    """404: gone, or owned by another project."""


class Workload(base.APIDictWrapper):
    _attrs = ["id", "name", "description", "status", "project_id", "instances", "jobschedule",
              "storage_usage", "created_at", "error_msg"]  # fmt: skip

    @property
    def schedule_enabled(self) -> bool:
        return bool((self._apidict.get("jobschedule") or {}).get("enabled"))

    @property
    def usage_bytes(self) -> int:
        usage = self._apidict.get("storage_usage") or {}
        return sum(int((usage.get(kind) or {}).get("usage") or 0) for kind in ("full", "incremental"))


class Snapshot(base.APIDictWrapper):
    _attrs = ["id", "name", "description", "status", "workload_id", "project_id", "snapshot_type",
              "progress_percent", "progress_msg", "error_msg", "size", "created_at", "instances"]  # fmt: skip

    @property
    def stored_bytes(self) -> int:
        """What the snapshot stored on the backup target (``uploaded_size``); ``size`` is provisioned."""
        return int(self._apidict.get("uploaded_size") or 0)

    @property
    def warnings(self) -> str:
        """What went less well than asked (``warning_msg``), e.g. a VM left crash-consistent."""
        return self._apidict.get("warning_msg") or ""


class Restore(base.APIDictWrapper):
    _attrs = ["id", "name", "status", "snapshot_id", "workload_id", "project_id", "restore_type",
              "progress_percent", "progress_msg", "error_msg", "created_at", "instances"]  # fmt: skip

    @property
    def options(self) -> dict[str, Any]:
        return self._apidict.get("restore_options") or {}

    @property
    def warnings(self) -> str:
        return self._apidict.get("warning_msg") or ""


class Policy(base.APIDictWrapper):
    """A workload policy; ``project_list`` is there when the API names its projects (admin's show)."""

    _attrs = ["id", "name", "display_name", "display_description", "field_values", "metadata",
              "project_list", "created_at", "updated_at"]  # fmt: skip

    @property
    def description(self) -> str:
        return self._apidict.get("display_description") or ""

    @property
    def fields(self) -> dict[str, Any]:
        return self._apidict.get("field_values") or {}

    @property
    def projects(self) -> list[str] | None:
        """The assigned projects' ids, or None when the answer did not name them."""
        return self._apidict.get("project_list")


class QuotaType(base.APIDictWrapper):
    _attrs = ["id", "display_name", "display_description"]


class Quota(base.APIDictWrapper):
    """A project's allowed quota of one type; ``usage`` is there when listed per project."""

    _attrs = ["id", "project_id", "quota_type_id", "quota_type_name", "allowed_value", "high_watermark",
              "usage"]  # fmt: skip


class Node(base.APIDictWrapper):
    """A T4O service on a host, with its heartbeat state (up, down) and whether it takes new jobs."""

    _attrs = ["host", "binary", "state", "disabled", "last_heartbeat"]

    @property
    def id(self) -> str:
        return f"{self._apidict['binary']}@{self._apidict['host']}"


class TargetWorkload(base.APIDictWrapper):
    """A workload as the backup target holds it (disaster recovery's listings); ``missing`` names what
    Keystone no longer has (project, user) for an orphan."""

    _attrs = ["id", "name", "description", "project_id", "user_id", "snapshots", "vms", "in_database",
              "deleted_in_database", "missing"]  # fmt: skip


class FileEntry(base.APIDictWrapper):
    """A file, directory, symlink... of a snapshot disk's filesystem; ``mode`` is octal text ("0644"),
    ``mtime`` seconds since the epoch."""

    _attrs = ["name", "path", "type", "size", "mode", "mtime", "uid", "gid", "link_target"]

    @property
    def id(self) -> str:
        return self._apidict["path"]


class FileListing(base.APIDictWrapper):
    """A directory of a snapshot disk: its ``path`` (where a symlink led), the volume read (``partition``,
    ``filesystem``), every volume of the disk and the directory's entries."""

    _attrs = ["path", "partition", "filesystem", "volumes"]

    @property
    def entries(self) -> list[FileEntry]:
        return [FileEntry(e) for e in self._apidict.get("entries") or []]


class FileSearch(base.APIDictWrapper):
    """A file search over snapshots of one VM; ``json_resp`` holds, per snapshot searched, its matches
    per disk and volume once the search is completed."""

    _attrs = ["id", "project_id", "user_id", "vm_id", "filepath", "snapshot_ids", "start", "end",
              "date_from", "date_to", "status", "error_msg", "progress_percent", "created_at",
              "finished_at", "json_resp"]  # fmt: skip

    @property
    def running(self) -> bool:
        return self._apidict.get("status") == "executing"


class Mount(base.APIDictWrapper):
    """A snapshot's disks attached to a recovery VM of the project (``disks``: vm_id, disk, device)."""

    _attrs = ["id", "snapshot_id", "snapshot_name", "workload_id", "mount_vm_id", "host", "status",
              "error_msg", "disks", "mounted_at", "last_used_at", "expires_at", "dismounted_at",
              "dismount_reason"]  # fmt: skip


class Trust(base.APIDictWrapper):
    """A user's role delegated to T4O's service user, for jobs that run while nobody is logged in;
    named ``trust-<user id>`` (one per user and project)."""

    _attrs = ["name", "value", "user_id", "project_id", "metadata", "created_at"]

    @property
    def id(self) -> str:
        return self._apidict["name"]

    @property
    def roles(self) -> str:
        return (self._apidict.get("metadata") or {}).get("role_name") or ""

    @property
    def is_cloud_trust(self) -> bool:
        return (self._apidict.get("metadata") or {}).get("is_cloud_trust") == "true"


class AuditEntry(base.APIDictWrapper):
    """A mutating API call (``kind`` api) or a job's start or end (``kind`` job)."""

    _attrs = ["id", "timestamp", "kind", "action", "method", "path", "object_type", "object_id",
              "status_code", "result", "message", "user_id", "project_id", "request_id"]  # fmt: skip


class BackupTarget(base.APIDictWrapper):
    """A backup target with its capacity (null with a ``reason`` when unknown, e.g. S3) and the bytes the
    snapshots of its workloads stored there (the storage usage's entries); or, from ``/backup_targets``,
    its definition (``is_default``)."""

    _attrs = ["id", "name", "url", "type", "default", "is_default", "mount_point", "total_bytes",
              "free_bytes", "used_bytes", "stored_bytes", "snapshots", "workload_count",
              "reason"]  # fmt: skip


class Setting(base.APIDictWrapper):
    _attrs = ["name", "value", "category", "description"]

    @property
    def id(self) -> str:
        return self._apidict["name"]


def _endpoint(request: Any) -> str:
    return base.url_for(request, SERVICE_TYPE).rstrip("/")


def _message(resp: requests.Response) -> str:
    """The API's error text: ``{"badRequest": {"code": 400, "message": "..."}}``."""
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:300] or resp.reason
    if isinstance(body, dict):
        for value in body.values():
            if isinstance(value, dict) and "message" in value:
                return str(value["message"])
    return resp.reason


def _send(
    request: Any,
    method: str,
    path: str,
    params: dict[str, Any] | None = None,
    body: dict[str, Any] | None = None,
    stream: bool = False,
) -> requests.Response:
    """One API request with the user's token; an error answer (or none) raises a WorkloadmgrError."""
    url = _endpoint(request) + path
    headers = {"X-Auth-Token": request.user.token.id, "Accept": "application/json"}
    if stream:
        headers["Accept"] = "*/*"
    verify: bool | str = not getattr(settings, "OPENSTACK_SSL_NO_VERIFY", False)
    cacert = getattr(settings, "OPENSTACK_SSL_CACERT", None)
    if verify and cacert:
        verify = cacert
    kwargs: dict[str, Any] = {"params": params, "json": body, "headers": headers, "timeout": TIMEOUT}
    kwargs["verify"] = verify
    if stream:
        kwargs["stream"] = True
    try:
        resp = requests.request(method, url, **kwargs)
    except requests.RequestException as exc:
        LOG.warning("workloadmgr %s %s failed: %s", method, url, exc)
        raise WorkloadmgrError(_("The backup service does not answer: %s") % exc) from exc
    if resp.status_code >= 400:
        text = _message(resp)
        resp.close()
        LOG.info("workloadmgr %s %s: %s %s", method, url, resp.status_code, text)
        if resp.status_code == 404:
            raise WorkloadmgrNotFound(text, 404)
        if resp.status_code == 401:
            raise horizon_exceptions.NotAuthorized(text)
        raise WorkloadmgrError(_user_text(request, text, resp.status_code), resp.status_code)
    return resp


def _user_text(request: Any, text: str, status: int) -> str:
    """The API's refusal as the user reads it: the user's project by name (the API knows only ids),
    and the HTTP code only for a server fault, which the message alone may not explain."""
    user = getattr(request, "user", None)
    project_id, project_name = getattr(user, "project_id", None), getattr(user, "project_name", None)
    if project_id and project_name and isinstance(project_id, str) and isinstance(project_name, str):
        text = text.replace(f"project {project_id}", f"project {project_name}")
    return text if status < 500 else f"{text} (HTTP {status})"


def call(
    request: Any,
    method: str,
    path: str,
    params: dict[str, Any] | None = None,
    body: dict[str, Any] | None = None,
) -> Any:
    """One API request; returns the decoded JSON body (None when there is none)."""
    resp = _send(request, method, path, params=params, body=body)
    if not resp.content:
        return None
    return resp.json()


def _next_params(body: dict[str, Any]) -> dict[str, str] | None:
    """The query of the ``next`` link of a paged list (``{resource}_links``), or None on the last page.

    Only the query is taken: the link's host is what the API saw, which a proxy may have rewritten.
    """
    for key, links in body.items():
        if not key.endswith("_links") or not isinstance(links, list):
            continue
        for link in links:
            if isinstance(link, dict) and link.get("rel") == "next" and link.get("href"):
                return dict(parse_qsl(urlsplit(link["href"]).query))
    return None


def list_all(request: Any, path: str, key: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every item of a list call, following its ``next`` links page by page."""
    body = call(request, "GET", path, params=params)
    items = list(body[key])
    for _page in range(MAX_PAGES):
        params = _next_params(body)
        if not params:
            return items
        body = call(request, "GET", path, params=params)
        items.extend(body[key])
    raise WorkloadmgrError(_("The list %s has more pages than can be shown.") % path)


# ------------------------------------------------------------------ workloads
def workload_type_list(request: Any) -> list[dict[str, Any]]:
    return list_all(request, "/workload_types/detail", "workload_types")


def workload_list(request: Any, all_projects: bool = False) -> list[Workload]:
    params = {"all_workloads": "true"} if all_projects else None
    return [Workload(w) for w in list_all(request, "/workloads/detail", "workloads", params)]


def workload_get(request: Any, workload_id: str) -> Workload:
    return Workload(call(request, "GET", f"/workloads/{workload_id}")["workload"])


def workload_create(
    request: Any,
    name: str,
    description: str,
    instance_ids: list[str],
    jobschedule: dict[str, Any],
    workload_type_id: str | None = None,
    policy_id: str | None = None,
    backup_target_id: str | None = None,
    encryption: bool = False,
    secret_uuid: str | None = None,
) -> Workload:
    """A new workload; with ``policy_id`` the policy decides the interval and retention; without
    ``backup_target_id`` it goes to the default backup target; ``encryption`` gives it a key of its own
    wrapped by the Barbican secret ``secret_uuid``."""
    workload: dict[str, Any] = {
        "name": name,
        "description": description,
        "source_platform": "openstack",
        "instances": [{"instance-id": i} for i in instance_ids],
        "jobschedule": jobschedule,
    }
    if workload_type_id:
        workload["workload_type_id"] = workload_type_id
    if policy_id:
        workload["metadata"] = {"policy_id": policy_id}
    if backup_target_id:
        workload["backup_target_id"] = backup_target_id
    if encryption:
        workload.update(encryption=True, secret_uuid=secret_uuid)
    return Workload(call(request, "POST", "/workloads", body={"workload": workload})["workload"])


def workload_update(request: Any, workload_id: str, **fields: Any) -> Workload:
    body = {"workload": fields}
    return Workload(call(request, "PUT", f"/workloads/{workload_id}", body=body)["workload"])


def workload_delete(request: Any, workload_id: str) -> None:
    call(request, "DELETE", f"/workloads/{workload_id}")


def workload_snapshot(
    request: Any, workload_id: str, full: bool, name: str = "", description: str = ""
) -> Snapshot:
    body = {"snapshot": {"name": name, "description": description}}
    params = {"full": "1" if full else "0"}
    return Snapshot(call(request, "POST", f"/workloads/{workload_id}", params=params, body=body)["snapshot"])


def workload_action(request: Any, workload_id: str, action: str) -> Workload:
    """pause, resume, unlock or reset."""
    return Workload(call(request, "POST", f"/workloads/{workload_id}/{action}")["workload"])


# ------------------------------------------------------------------ snapshots
def snapshot_list(request: Any, workload_id: str | None = None, all_projects: bool = False) -> list[Snapshot]:
    params: dict[str, str] = {}
    if workload_id:
        params["workload_id"] = workload_id
    if all_projects:
        params["all"] = "true"
    return [Snapshot(s) for s in list_all(request, "/snapshots/detail", "snapshots", params)]


def snapshot_get(request: Any, snapshot_id: str) -> Snapshot:
    return Snapshot(call(request, "GET", f"/snapshots/{snapshot_id}")["snapshot"])


def snapshot_delete(request: Any, snapshot_id: str) -> None:
    call(request, "DELETE", f"/snapshots/{snapshot_id}")


def snapshot_cancel(request: Any, snapshot_id: str) -> Snapshot:
    return Snapshot(call(request, "GET", f"/snapshots/{snapshot_id}/cancel")["snapshot"])


def _disk_path(snapshot_id: str, vm_id: str, disk: str) -> str:
    return (
        f"/snapshots/{quote(snapshot_id, safe='')}/vms/{quote(vm_id, safe='')}/disks/{quote(disk, safe='')}"
    )


def _file_params(path: str, partition: str | int | None) -> dict[str, str]:
    params = {"path": path or "/"}
    if partition not in (None, ""):
        params["partition"] = str(partition)
    return params


def snapshot_browse(
    request: Any, snapshot_id: str, vm_id: str, disk: str, path: str = "/", partition: str | int | None = None
) -> FileListing:
    """A directory of a snapshot disk, read from the backup target; ``partition`` None: the API picks the
    first volume with a filesystem it reads."""
    found = call(
        request, "GET", _disk_path(snapshot_id, vm_id, disk) + "/browse", _file_params(path, partition)
    )
    return FileListing(found["browse"])


def snapshot_download(
    request: Any, snapshot_id: str, vm_id: str, disk: str, path: str, partition: str | int | None = None
) -> requests.Response:
    """A file of a snapshot disk (or a directory as a tar) as a streamed response: its body is read with
    ``iter_content`` and the caller closes it. Its headers give Content-Type, Content-Disposition and, for
    a file, Content-Length."""
    url = _disk_path(snapshot_id, vm_id, disk) + "/download"
    return _send(request, "GET", url, params=_file_params(path, partition), stream=True)


# ------------------------------------------------------------------ file search and snapshot mounts
def file_search_start(
    request: Any,
    vm_id: str,
    filepath: str,
    snapshot_ids: list[str] | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
) -> FileSearch:
    """Starts a search of ``filepath`` (a path, glob or regex) in the VM's snapshots: those listed, or
    every available one, within the dates (ISO 8601) when given. The API answers at once; the search
    runs in the background until its status is completed or error."""
    criteria: dict[str, Any] = {"vm_id": vm_id, "filepath": filepath}
    if snapshot_ids:
        criteria["snapshot_ids"] = list(snapshot_ids)
    if date_from:
        criteria["date_from"] = date_from
    if date_to:
        criteria["date_to"] = date_to
    return FileSearch(call(request, "POST", "/search", body={"file_search": criteria})["file_search"])


def file_search_get(request: Any, search_id: str) -> FileSearch:
    return FileSearch(call(request, "GET", f"/search/{quote(search_id, safe='')}")["file_search"])


def file_search_list(request: Any) -> list[FileSearch]:
    """The project's searches, newest first (without their results)."""
    return [FileSearch(f) for f in call(request, "GET", "/search")["file_searches"]]


def snapshot_mount(request: Any, snapshot_id: str, mount_vm_id: str) -> Mount:
    """Attaches the snapshot's disks to a server of the project (the recovery VM)."""
    body = {"mount": {"mount_vm_id": mount_vm_id}}
    return Mount(call(request, "POST", f"/snapshots/{quote(snapshot_id, safe='')}/mount", body=body)["mount"])


def snapshot_dismount(request: Any, snapshot_id: str) -> Mount:
    return Mount(
        call(request, "POST", f"/snapshots/{quote(snapshot_id, safe='')}/dismount", body={})["mount"]
    )


def mounted_list(request: Any) -> list[Mount]:
    """The project's live mounts."""
    return [Mount(m) for m in call(request, "GET", "/snapshots/mounted/list")["mounted_snapshots"]]


# ------------------------------------------------------------------ restores
def restore_create(
    request: Any, snapshot_id: str, restore_type: str, name: str = "", openstack: dict[str, Any] | None = None
) -> Restore:
    options: dict[str, Any] = {
        "name": name,
        "type": "openstack",
        "restore_type": restore_type,
        "oneclickrestore": restore_type == "oneclick",
        "openstack": openstack or {},
    }
    body = {"restore": {"name": name, "options": options}}
    return Restore(call(request, "POST", f"/snapshots/{snapshot_id}", body=body)["restore"])


def restore_list(request: Any, snapshot_id: str | None = None) -> list[Restore]:
    params = {"snapshot_id": snapshot_id} if snapshot_id else None
    return [Restore(r) for r in list_all(request, "/restores/detail", "restores", params)]


def restore_get(request: Any, restore_id: str) -> Restore:
    return Restore(call(request, "GET", f"/restores/{restore_id}")["restore"])


def restore_delete(request: Any, restore_id: str) -> None:
    call(request, "DELETE", f"/restores/{restore_id}")


def restore_cancel(request: Any, restore_id: str) -> Restore:
    return Restore(call(request, "GET", f"/restores/{restore_id}/cancel")["restore"])


# ------------------------------------------------------------------ settings and the global scheduler
def setting_list(request: Any) -> list[Setting]:
    return [Setting(s) for s in list_all(request, "/settings", "settings")]


def setting_set(request: Any, name: str, value: str, description: str = "") -> None:
    body = {"settings": [{"name": name, "value": value, "description": description}]}
    call(request, "PUT", "/settings", body=body)


def setting_delete(request: Any, name: str) -> None:
    call(request, "DELETE", f"/settings/{name}")


def global_scheduler_enabled(request: Any) -> bool:
    return bool(call(request, "GET", "/global_job_scheduler")["global_job_scheduler"])


def global_scheduler_set(request: Any, enabled: bool) -> bool:
    action = "enable" if enabled else "disable"
    return bool(call(request, "POST", f"/global_job_scheduler/{action}")["global_job_scheduler"])


# ------------------------------------------------------------------ workload policies
def policy_list(request: Any) -> list[Policy]:
    return [Policy(p) for p in list_all(request, "/workload_policy/", "policy_list")]


def policy_get(request: Any, policy_id: str) -> Policy:
    return Policy(call(request, "GET", f"/workload_policy/{policy_id}")["policy"])


def policy_create(request: Any, name: str, description: str, field_values: dict[str, Any]) -> Policy:
    body = {
        "workload_policy": {
            "display_name": name,
            "display_description": description,
            "field_values": field_values,
        }
    }
    return Policy(call(request, "POST", "/workload_policy/", body=body)["policy"])


def policy_update(
    request: Any, policy_id: str, name: str, description: str, field_values: dict[str, Any]
) -> Policy:
    body = {
        "workload_policy": {
            "display_name": name,
            "display_description": description,
            "field_values": field_values,
        }
    }
    return Policy(call(request, "PUT", f"/workload_policy/{policy_id}", body=body)["policy"])


def policy_delete(request: Any, policy_id: str) -> None:
    call(request, "DELETE", f"/workload_policy/{policy_id}")


def policy_assign(request: Any, policy_id: str, add: list[str], remove: list[str]) -> Policy:
    """Assigns the policy to the ``add`` projects and takes it back from the ``remove`` ones."""
    body = {"policy": {"add_projects": add, "remove_projects": remove}}
    return Policy(call(request, "POST", f"/workload_policy/{policy_id}/assign", body=body)["policy"])


# ------------------------------------------------------------------ project quotas
def quota_type_list(request: Any) -> list[QuotaType]:
    return [QuotaType(t) for t in call(request, "GET", "/project_quota_types")["quota_types"]]


def quota_list(request: Any, project_id: str) -> list[Quota]:
    """The project's allowed quotas with its current usage."""
    return [Quota(q) for q in call(request, "GET", f"/project_allowed_quotas/{project_id}")["allowed_quotas"]]


def quota_set(request: Any, project_id: str, quotas: list[dict[str, Any]]) -> list[Quota]:
    """Creates or replaces allowed quotas: items of quota_type_id, allowed_value, high_watermark."""
    body = {"allowed_quotas": quotas}
    found = call(request, "POST", f"/project_allowed_quotas/{project_id}", body=body)["allowed_quotas"]
    return [Quota(q) for q in found]


def quota_delete(request: Any, quota_id: str) -> None:
    call(request, "DELETE", f"/project_allowed_quotas/{quota_id}")


# ------------------------------------------------------------------ trusts
def trust_list(request: Any) -> list[Trust]:
    """The trusts the project's users gave T4O (every user's, oldest first)."""
    return [Trust(t) for t in call(request, "GET", "/trusts")["trust"]]


def trust_create(request: Any, role_name: str = "", is_cloud_trust: bool = False) -> Trust:
    """Delegates ``role_name`` (empty: the service's configured role) of the logged-in user; replaces
    (and revokes) their previous trust. A cloud trust is for administrators."""
    trust: dict[str, Any] = {"is_cloud_trust": is_cloud_trust}
    if role_name:
        trust["role_name"] = role_name
    return Trust(call(request, "POST", "/trusts", body={"trusts": trust})["trust"][0])


def trust_delete(request: Any, name: str) -> None:
    """Revokes the trust in Keystone (its owner or an administrator) and forgets it."""
    call(request, "DELETE", f"/trusts/{quote(name, safe='')}")


# ------------------------------------------------------------------ audit log and storage (admin)
def auditlog_list(request: Any, time_in_minutes: int) -> list[AuditEntry]:
    """The audit entries of the last ``time_in_minutes``, newest first (every project's for an admin)."""
    found = call(request, "GET", "/workloads/audit/auditlog", params={"time_in_minutes": time_in_minutes})
    return [AuditEntry(e) for e in found["auditlog"]]


def storage_usage(request: Any) -> tuple[list[dict[str, Any]], list[BackupTarget]]:
    """Per project: snapshots, ``bytes`` (provisioned), ``stored_bytes`` (the Storage quota's usage) split
    into ``full_stored_bytes`` and ``incremental_stored_bytes``; and the backup targets' capacity."""
    found = call(request, "GET", "/workloads/metrics/storage_usage")
    return list(found["storage_usage"]), [BackupTarget(t) for t in found.get("backup_targets") or []]


def backup_target_list(request: Any) -> list[BackupTarget]:
    """The backup targets workloads may choose (administrators only: rule backup_target:get)."""
    return [BackupTarget(t) for t in call(request, "GET", "/backup_targets")["backup_targets"]]


# ------------------------------------------------------------------ service nodes
def node_list(request: Any) -> list[Node]:
    """Every T4O service node; the metrics call carries them (limit=1 keeps its job list short)."""
    metrics = call(request, "GET", "/t4o_metrics", params={"limit": 1})["metrics"]
    return [Node(n) for n in metrics["nodes"]]


def node_set_disabled(request: Any, host: str, disabled: bool) -> Node:
    """Disables (no new job is placed there) or enables the workloads worker of a host."""
    body = {"node": {"disabled": disabled}}
    return Node(call(request, "PUT", f"/t4o_nodes/{quote(host, safe='')}", body=body)["node"])


# ------------------------------------------------------------------ disaster recovery (admin)
def importable_list(request: Any) -> list[TargetWorkload]:
    """Every workload on the backup target, saying whether the database has it."""
    found = call(request, "GET", "/workloads/get_list/import_workloads")["workloads"]
    return [TargetWorkload(w) for w in found]


def import_workloads(request: Any, workload_ids: list[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Imports the listed workloads (every one on the target when None) with the snapshots the database
    lacks; the report's lists are ``imported``, ``updated``, ``unchanged`` and ``failed``."""
    body = {"workload_ids": list(workload_ids)} if workload_ids else {}
    report = call(request, "POST", "/workloads/import_workloads", body=body)["workloads"]
    return {
        key: list(report.get(f"{key}_workloads") or [])
        for key in ("imported", "updated", "unchanged", "failed")
    }


def orphan_list(request: Any, migrate_cloud: bool = False) -> list[TargetWorkload]:
    """Workloads on the target whose project or user Keystone no longer has; with ``migrate_cloud``
    every workload on the target (those of another cloud)."""
    params = {"migrate_cloud": "True"} if migrate_cloud else None
    found = call(request, "GET", "/workloads/orphan_workloads", params=params)["workloads"]
    return [TargetWorkload(w) for w in found]


def reassign_workloads(
    request: Any,
    workload_ids: list[str],
    new_project_id: str | None = None,
    user_id: str | None = None,
    project_map: dict[str, str] | None = None,
    migrate_cloud: bool = False,
) -> list[dict[str, Any]]:
    """Moves workloads (the listed ones, or with ``project_map`` every workload of its old projects) to
    another project; ``user_id`` becomes their owner (default: unchanged). Returns what moved."""
    body: dict[str, Any] = {}
    if workload_ids:
        body["workload_ids"] = list(workload_ids)
    if new_project_id:
        body["new_tenant_id"] = new_project_id
    if user_id:
        body["user_id"] = user_id
    if project_map:
        body["project_map"] = dict(project_map)
    if migrate_cloud:
        body["migrate_cloud"] = True
    found = call(request, "POST", "/workloads/reassign_workloads", body=body)["workloads"]
    return list(found["reassigned_workloads"])
