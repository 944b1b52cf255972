"""The API's one source of truth: every operation with its handler, parameters, body schema and responses.

The Flask routes, request validation and the OpenAPI 3.1 document (served at /openapi.json and kept in
docs/openapi.yaml) are all generated from OPERATIONS. Each operation names its handler function (in
t4o.api.handlers.<resource>) and its schemas (in t4o.api.schemas.<resource>).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from t4o import __version__
from t4o.api.handlers import (
    admin_paths,
    audit,
    backup_targets,
    file_search,
    files,
    imports,
    metrics,
    mounts,
    nodes,
    policies,
    quotas,
    restores,
    scheduled_runs,
    scheduler,
    settings,
    snapshots,
    trusts,
    workload_types,
    workloads,
)
from t4o.api.schemas import admin_paths as admin_s
from t4o.api.schemas import audit as audit_s
from t4o.api.schemas import backup_targets as targets_s
from t4o.api.schemas import file_search as search_s
from t4o.api.schemas import files as files_s
from t4o.api.schemas import imports as imports_s
from t4o.api.schemas import metrics as metrics_s
from t4o.api.schemas import mounts as mounts_s
from t4o.api.schemas import nodes as nodes_s
from t4o.api.schemas import policies as policies_s
from t4o.api.schemas import quotas as quotas_s
from t4o.api.schemas import restores as restores_s
from t4o.api.schemas import scheduled_runs as runs_s
from t4o.api.schemas import scheduler as scheduler_s
from t4o.api.schemas import settings as settings_s
from t4o.api.schemas import snapshots as snapshots_s
from t4o.api.schemas import trusts as trusts_s
from t4o.api.schemas import workload_types as types_s
from t4o.api.schemas import workloads as workloads_s
from t4o.api.schemas.common import ERROR, paged, wrap, wrap_list

# handler(ctx, body, query, **path_params) -> JSON-able payload, or None for an empty response.
Handler = Callable[..., Any]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # below /v1/{project_id}
    operation_id: str
    handler: Handler
    summary: str
    tag: str
    status: int = 200
    response: dict[str, Any] | None = None
    query: dict[str, dict[str, Any]] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    body_required: bool = False
    errors: tuple[int, ...] = (400, 401, 403, 404)
    # OpenAPI links from the response: name -> (operationId, {parameter: runtime expression}).
    links: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)
    # A response that is not JSON: media type -> {"schema": ...} of the success response.
    content: dict[str, Any] | None = None
    # More responses as OpenAPI writes them (status -> response object), e.g. 206 for a range.
    responses: dict[str, Any] = field(default_factory=dict)

    @property
    def full_path(self) -> str:
        return "/v1/{project_id}" + self.path


def _links(key: str, param: str, operation_ids: list[str]) -> dict[str, tuple[str, dict[str, str]]]:
    """Links from a created resource (``{key: {id: ...}}``) to the operations on it."""
    return {oid: (oid, {param: f"$response.body#/{key}/id"}) for oid in operation_ids}


_WORKLOAD_LINKS = _links(
    "workload",
    "workload_id",
    [
        "showWorkload",
        "updateWorkload",
        "snapshotWorkload",
        "pauseWorkload",
        "resumeWorkload",
        "unlockWorkload",
        "resetWorkload",
        "deleteWorkload",
    ],
)
_SNAPSHOT_LINKS = _links(
    "snapshot", "snapshot_id", ["showSnapshot", "restoreSnapshot", "cancelSnapshot", "deleteSnapshot"]
)
_RESTORE_LINKS = _links("restore", "restore_id", ["showRestore", "cancelRestore", "deleteRestore"])

_WL = "/workloads/{workload_id}"
_SN = "/snapshots/{snapshot_id}"
_RS = "/restores/{restore_id}"
_P = "/workload_policy/{policy_id}"
_BT = "/backup_targets/{backup_target_id}"
_CONFLICT = (400, 401, 403, 404, 409)
_DISK = _SN + "/vms/{vm_id}/disks/{disk}"
_BYTES = {"schema": files_s.BINARY}
_ERROR_JSON = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
_DOWNLOAD_RESPONSES = {
    "206": {
        "description": "The byte range asked for (Range: bytes=a-b), with Content-Range",
        "content": {"application/octet-stream": _BYTES},
    },
    "416": {
        "description": "The range is outside the file (Content-Range: bytes */size)",
        "content": _ERROR_JSON,
    },
}

_WORKLOAD = wrap("workload", workloads_s.WORKLOAD)
_SNAPSHOT = wrap("snapshot", snapshots_s.SNAPSHOT)
_RESTORE = wrap("restore", restores_s.RESTORE)
_POLICY = wrap("policy", policies_s.POLICY)

OPERATIONS: list[Operation] = [
    # workload types
    Operation("GET", "/workload_types", "listWorkloadTypes", workload_types.list_workload_types,
              "List workload types", "workload_types", query=types_s.PAGE,
              response=paged("workload_types", types_s.WORKLOAD_TYPE)),
    Operation("GET", "/workload_types/detail", "listWorkloadTypesDetail", workload_types.list_workload_types,
              "List workload types with details", "workload_types", query=types_s.PAGE,
              response=paged("workload_types", types_s.WORKLOAD_TYPE)),
    Operation("GET", "/workload_types/{workload_type_id}", "showWorkloadType",
              workload_types.show_workload_type, "Show a workload type", "workload_types",
              response=wrap("workload_type", types_s.WORKLOAD_TYPE)),
    # workloads
    Operation("GET", "/workloads", "listWorkloads", workloads.list_workloads, "List workloads", "workloads",
              query=workloads_s.LIST_QUERY, response=paged("workloads", workloads_s.WORKLOAD)),
    Operation("GET", "/workloads/detail", "listWorkloadsDetail", workloads.list_workloads_detail,
              "List workloads with details", "workloads", query=workloads_s.LIST_QUERY,
              response=paged("workloads", workloads_s.WORKLOAD)),
    Operation("POST", "/workloads", "createWorkload", workloads.create_workload, "Create a workload",
              "workloads", status=202, body=workloads_s.CREATE, body_required=True, response=_WORKLOAD,
              errors=_CONFLICT, links=_WORKLOAD_LINKS),
    Operation("GET", _WL, "showWorkload", workloads.show_workload, "Show a workload with its storage usage",
              "workloads", response=_WORKLOAD),
    Operation("PUT", _WL, "updateWorkload", workloads.update_workload,
              "Modify a workload (instances, schedule)", "workloads", status=202, body=workloads_s.UPDATE,
              body_required=True, response=_WORKLOAD, errors=_CONFLICT),
    Operation("DELETE", _WL, "deleteWorkload", workloads.delete_workload, "Delete a workload", "workloads",
              status=202, query=workloads_s.DELETE_QUERY, errors=_CONFLICT),
    Operation("POST", _WL, "snapshotWorkload", workloads.snapshot_workload,
              "Take a snapshot (full with ?full=1); 202 and a queued snapshot", "workloads", status=202,
              query=workloads_s.SNAPSHOT_QUERY, body=snapshots_s.CREATE, response=_SNAPSHOT,
              errors=_CONFLICT, links=_SNAPSHOT_LINKS),
    Operation("POST", _WL + "/pause", "pauseWorkload", workloads.pause_workload,
              "Pause the workload's schedule", "workloads", response=_WORKLOAD),
    Operation("POST", _WL + "/resume", "resumeWorkload", workloads.resume_workload,
              "Resume the workload's schedule", "workloads", response=_WORKLOAD),
    Operation("POST", _WL + "/unlock", "unlockWorkload", workloads.unlock_workload,
              "Make a locked workload available when no job of it runs", "workloads",
              response=_WORKLOAD, errors=_CONFLICT),
    Operation("POST", _WL + "/reset", "resetWorkload", workloads.reset_workload,
              "Mark the workload's unfinished jobs as error and make it available", "workloads",
              response=_WORKLOAD),
    Operation("GET", _WL + "/scheduled_runs", "listScheduledRuns", scheduled_runs.list_scheduled_runs,
              "What the cron service did with each scheduled run of a workload", "workloads",
              query=runs_s.PAGE, response=paged("scheduled_runs", runs_s.RUN)),
    Operation("GET", _WL + "/scheduled_runs/{run_id}", "showScheduledRun", scheduled_runs.show_scheduled_run,
              "One scheduled run of a workload, with each of its attempts", "workloads",
              response=wrap("scheduled_run", runs_s.RUN)),
    # disaster recovery: the backup target read back into the database (admin)
    Operation("GET", "/workloads/get_list/import_workloads", "listImportableWorkloads",
              imports.list_importable, "List the workloads on the backup targets (admin)", "workloads",
              query=imports_s.IMPORTABLE_QUERY, response=imports_s.TARGET_WORKLOADS, errors=_CONFLICT),
    Operation("POST", "/workloads/import_workloads", "importWorkloads", imports.import_workloads,
              "Import workloads and their snapshots from the backup target (admin)", "workloads",
              body=imports_s.IMPORT_BODY, response=imports_s.IMPORT_RESULT, errors=_CONFLICT),
    Operation("GET", "/workloads/orphan_workloads", "listOrphanedWorkloads", imports.list_orphans,
              "List the workloads on the backup target whose project or user is gone (admin)", "workloads",
              query=imports_s.ORPHAN_QUERY, response=imports_s.TARGET_WORKLOADS, errors=_CONFLICT),
    Operation("POST", "/workloads/reassign_workloads", "reassignWorkloads", imports.reassign_workloads,
              "Move workloads to another project and user (admin)", "workloads",
              body=imports_s.REASSIGN_BODY, body_required=True, response=imports_s.REASSIGN_RESULT,
              errors=_CONFLICT),
    # snapshots
    Operation("GET", "/snapshots", "listSnapshots", snapshots.list_snapshots, "List snapshots", "snapshots",
              query=snapshots_s.LIST_QUERY, response=paged("snapshots", snapshots_s.SNAPSHOT)),
    Operation("GET", "/snapshots/detail", "listSnapshotsDetail", snapshots.list_snapshots_detail,
              "List snapshots with details", "snapshots", query=snapshots_s.LIST_QUERY,
              response=paged("snapshots", snapshots_s.SNAPSHOT)),
    Operation("GET", _SN, "showSnapshot", snapshots.show_snapshot, "Show a snapshot (VMs, sizes, progress)",
              "snapshots", response=_SNAPSHOT),
    Operation("DELETE", _SN, "deleteSnapshot", snapshots.delete_snapshot, "Delete a snapshot", "snapshots",
              status=202, errors=_CONFLICT),
    Operation("GET", _SN + "/cancel", "cancelSnapshot", snapshots.cancel_snapshot,
              "Cancel a running snapshot", "snapshots", response=_SNAPSHOT, errors=_CONFLICT),
    # file recovery: a snapshot disk's files straight from the vault
    Operation("GET", _DISK + "/browse", "browseSnapshotDisk", files.browse,
              "List a directory of a snapshot disk (its volumes, the entries of path)", "snapshots",
              query=files_s.QUERY, response=files_s.BROWSE, errors=_CONFLICT),
    Operation("GET", _DISK + "/download", "downloadSnapshotFile", files.download,
              "Download a file of a snapshot disk (byte ranges honoured), or a directory as a tar stream",
              "snapshots", query=files_s.QUERY, content=files_s.DOWNLOAD_CONTENT, errors=_CONFLICT,
              responses=_DOWNLOAD_RESPONSES),
    # snapshot mount: a snapshot's disks attached read-only to a recovery VM, until dismounted or idle
    Operation("POST", _SN + "/mount", "mountSnapshot", mounts.mount_snapshot,
              "Attach the snapshot's disks read-only to a running recovery VM of the project", "snapshots",
              body=mounts_s.MOUNT_BODY, body_required=True, response=wrap("mount", mounts_s.MOUNT),
              errors=_CONFLICT),
    Operation("POST", _SN + "/dismount", "dismountSnapshot", mounts.dismount_snapshot,
              "Detach a mounted snapshot's disks from its recovery VM", "snapshots",
              body=mounts_s.DISMOUNT_BODY, response=wrap("mount", mounts_s.MOUNT), errors=_CONFLICT),
    Operation("GET", "/snapshots/mounted/list", "listMountedSnapshots", mounts.list_mounted,
              "List the project's mounted snapshots", "snapshots",
              response=wrap_list("mounted_snapshots", mounts_s.MOUNT)),
    # file search: a path, glob or regex over some snapshots of a VM, run by a workloads worker
    Operation("POST", "/search", "createFileSearch", file_search.create_search,
              "Search a VM's snapshots for files (path, glob or regex); 202 and a search to poll",
              "file_search", status=202, body=search_s.CREATE, body_required=True,
              response=wrap("file_search", search_s.FILE_SEARCH), errors=_CONFLICT,
              links=_links("file_search", "search_id", ["showFileSearch"])),
    Operation("GET", "/search/{search_id}", "showFileSearch", file_search.show_search,
              "Show a file search: its status, progress and the matches per snapshot", "file_search",
              response=wrap("file_search", search_s.FILE_SEARCH)),
    Operation("GET", "/search", "listFileSearches", file_search.list_searches,
              "List the project's file searches, newest first (without their results)", "file_search",
              query=search_s.LIST_QUERY, response=wrap_list("file_searches", search_s.FILE_SEARCH_ITEM)),
    # restores
    Operation("POST", _SN, "restoreSnapshot", restores.create_restore,
              "Restore from a snapshot (oneclick, selective, inplace, network-topology, security-groups); "
              "202 and a queued restore", "restores",
              status=202, body=restores_s.CREATE, body_required=True, response=_RESTORE, errors=_CONFLICT,
              links=_RESTORE_LINKS),
    Operation("POST", _WL + "/snapshots/{snapshot_id}/restores", "restoreWorkloadSnapshot",
              restores.create_workload_restore, "Restore from a snapshot of this workload (same body)",
              "restores", status=202, body=restores_s.CREATE, body_required=True, response=_RESTORE,
              errors=_CONFLICT, links=_RESTORE_LINKS),
    Operation("GET", "/restores", "listRestores", restores.list_restores, "List restores", "restores",
              query=restores_s.LIST_QUERY, response=paged("restores", restores_s.RESTORE)),
    Operation("GET", "/restores/detail", "listRestoresDetail", restores.list_restores_detail,
              "List restores with details", "restores", query=restores_s.LIST_QUERY,
              response=paged("restores", restores_s.RESTORE)),
    Operation("GET", _RS, "showRestore", restores.show_restore, "Show a restore", "restores",
              response=_RESTORE),
    Operation("DELETE", _RS, "deleteRestore", restores.delete_restore, "Delete a finished restore's record",
              "restores", status=202, errors=_CONFLICT),
    Operation("GET", _RS + "/cancel", "cancelRestore", restores.cancel_restore, "Cancel a running restore",
              "restores", response=_RESTORE, errors=_CONFLICT),
    # settings
    Operation("GET", "/settings", "listSettings", settings.list_settings,
              "List the project's settings (by name; a setting's name is its marker)", "settings",
              query=settings_s.PAGE, response=paged("settings", settings_s.SETTING)),
    Operation("POST", "/settings", "createSettings", settings.create_settings, "Create settings", "settings",
              body=settings_s.BODY, body_required=True, response=wrap_list("settings", settings_s.SETTING),
              errors=_CONFLICT),
    Operation("PUT", "/settings", "updateSettings", settings.update_settings, "Create or update settings",
              "settings", body=settings_s.BODY, body_required=True,
              response=wrap_list("settings", settings_s.SETTING), errors=_CONFLICT),
    Operation("GET", "/settings/{name}", "showSetting", settings.show_setting, "Show a setting", "settings",
              response=wrap("setting", settings_s.SETTING)),
    Operation("DELETE", "/settings/{name}", "deleteSetting", settings.delete_setting, "Delete a setting",
              "settings", status=202),
    # global job scheduler
    Operation("GET", "/global_job_scheduler", "getGlobalJobScheduler", scheduler.get_global_job_scheduler,
              "Whether scheduled snapshots run", "global_job_scheduler",
              response=scheduler_s.GLOBAL_JOB_SCHEDULER),
    Operation("POST", "/global_job_scheduler/enable", "enableGlobalJobScheduler",
              scheduler.enable_global_job_scheduler, "Enable scheduled snapshots (admin)",
              "global_job_scheduler", response=scheduler_s.GLOBAL_JOB_SCHEDULER),
    Operation("POST", "/global_job_scheduler/disable", "disableGlobalJobScheduler",
              scheduler.disable_global_job_scheduler, "Disable scheduled snapshots (admin)",
              "global_job_scheduler", response=scheduler_s.GLOBAL_JOB_SCHEDULER),
    # workload policies
    Operation("GET", "/workload_policy/", "listWorkloadPolicies", policies.list_workload_policies,
              "List workload policies (admin: all; member: those of the project)", "workload_policy",
              query=policies_s.PAGE, response=paged("policy_list", policies_s.POLICY)),
    Operation("POST", "/workload_policy/", "createWorkloadPolicy", policies.create_workload_policy,
              "Create a workload policy (admin)", "workload_policy", body=policies_s.BODY, body_required=True,
              response=_POLICY, errors=_CONFLICT),
    Operation("GET", _P, "showWorkloadPolicy", policies.show_workload_policy, "Show a workload policy",
              "workload_policy", response=_POLICY),
    Operation("PUT", _P, "updateWorkloadPolicy", policies.update_workload_policy,
              "Change a workload policy (admin)", "workload_policy", body=policies_s.BODY, body_required=True,
              response=_POLICY, errors=_CONFLICT),
    Operation("DELETE", _P, "deleteWorkloadPolicy", policies.delete_workload_policy,
              "Delete a workload policy no workload uses (admin)", "workload_policy", status=202,
              errors=_CONFLICT),
    Operation("POST", _P + "/assign", "assignWorkloadPolicy", policies.assign_workload_policy,
              "Assign a workload policy to projects or take it back (admin)", "workload_policy",
              body=policies_s.ASSIGN_BODY, body_required=True, response=policies_s.ASSIGN_OUT),
    Operation("GET", "/workload_policy/assigned/{assigned_project_id}", "listAssignedWorkloadPolicies",
              policies.list_assigned_workload_policies, "Workload policies assigned to a project",
              "workload_policy", query=policies_s.PAGE, response=paged("policies", policies_s.POLICY)),
    # quotas
    Operation("GET", "/project_quota_types", "listProjectQuotaTypes", quotas.list_project_quota_types,
              "The kinds of project quota", "quotas", response=wrap_list("quota_types", quotas_s.QUOTA_TYPE)),
    Operation("GET", "/project_allowed_quotas/{quota_project_id}", "listProjectAllowedQuotas",
              quotas.list_project_allowed_quotas, "A project's allowed quotas, with usage", "quotas",
              query=quotas_s.PAGE, response=paged("allowed_quotas", quotas_s.QUOTA)),
    Operation("POST", "/project_allowed_quotas/{quota_project_id}", "createProjectAllowedQuotas",
              quotas.create_project_allowed_quotas, "Set allowed quotas of a project (admin)", "quotas",
              body=quotas_s.CREATE, body_required=True, response=wrap_list("allowed_quotas", quotas_s.QUOTA)),
    Operation("PUT", "/update_allowed_quota/{quota_id}", "updateProjectAllowedQuota",
              quotas.update_project_allowed_quota, "Change an allowed quota (admin)", "quotas",
              body=quotas_s.UPDATE, body_required=True, response=wrap("allowed_quotas", quotas_s.QUOTA)),
    Operation("DELETE", "/project_allowed_quotas/{quota_id}", "deleteProjectAllowedQuota",
              quotas.delete_project_allowed_quota, "Remove an allowed quota (admin)", "quotas", status=202),
    # metrics and nodes
    Operation("GET", "/t4o_metrics", "getMetrics", metrics.get_metrics,
              "Storage per project, protected VMs, recent jobs and service nodes (admin)", "metrics",
              query=metrics_s.QUERY, response=metrics_s.METRICS),
    Operation("GET", "/t4o_nodes", "listNodes", nodes.list_nodes,
              "Service nodes (one per host and binary) with their state and whether disabled (admin)",
              "metrics", query=nodes_s.PAGE, response=paged("nodes", nodes_s.NODE_ITEM)),
    Operation("PUT", "/t4o_nodes/{node_host}", "updateNode", nodes.update_node,
              "Disable a workloads node (it takes no new jobs, finishes those it runs) or enable it (admin)",
              "metrics", body=nodes_s.BODY, body_required=True, response=nodes_s.NODE),
    # Trilio's admin paths: the metrics by part (as /t4o_metrics), node enable/disable, test email
    Operation("GET", "/workloads/metrics", "getWorkloadsMetrics", metrics.get_metrics,
              "Storage per project, protected VMs, recent jobs and service nodes (admin; as /t4o_metrics)",
              "metrics", query=metrics_s.QUERY, response=metrics_s.METRICS),
    Operation("GET", "/workloads/metrics/nodes", "getMetricsNodes", admin_paths.metrics_nodes,
              "Service nodes with their state and whether disabled (admin)", "metrics",
              response=admin_s.NODES),
    Operation("GET", "/workloads/metrics/storage_usage", "getMetricsStorageUsage",
              admin_paths.metrics_storage_usage, "Backup storage per project (admin)", "metrics",
              response=admin_s.STORAGE_USAGE),
    Operation("GET", "/workloads/metrics/tenants_usage", "getMetricsTenantsUsage",
              admin_paths.metrics_tenants_usage, "Backup storage in total and by project (admin)", "metrics",
              response=admin_s.TENANTS_USAGE),
    Operation("GET", "/workloads/metrics/vms_protected", "getMetricsVmsProtected",
              admin_paths.metrics_vms_protected, "VMs and volumes that live workloads protect (admin)",
              "metrics", response=admin_s.VMS_PROTECTED),
    Operation("GET", "/workloads/metrics/recentactivities", "getMetricsRecentActivities",
              admin_paths.metrics_recent_activities, "The newest snapshots and restores (admin)", "metrics",
              query=admin_s.RECENT_QUERY, response=admin_s.RECENT_ACTIVITIES),
    Operation("POST", "/workloads/service/update", "updateService", admin_paths.service_update,
              "Enable or disable a workloads node (admin; as PUT /t4o_nodes/{node_host})", "metrics",
              body=admin_s.SERVICE_UPDATE, body_required=True,
              response=admin_s.SERVICE),
    Operation("GET", "/workloads/email/test_email", "sendTestEmail", admin_paths.test_email,
              "Send a test email with the project's SMTP settings", "settings", response=admin_s.TEST_EMAIL,
              errors=_CONFLICT),
    # audit log
    Operation("GET", "/workloads/audit/auditlog", "getAuditLog", audit.get_auditlog,
              "Mutating API calls and job starts and ends of the last time_in_minutes, newest first (admin)",
              "audit", query=audit_s.QUERY, response=audit_s.AUDITLOG),
    # backup targets (admin): where snapshots are stored, chosen per workload at create time
    Operation("GET", "/backup_targets", "listBackupTargets", backup_targets.list_backup_targets,
              "List the backup targets (the configured one alone when none is defined) (admin)",
              "backup_targets", response=wrap_list("backup_targets", targets_s.BACKUP_TARGET)),
    Operation("POST", "/backup_targets", "createBackupTarget", backup_targets.create_backup_target,
              "Define a backup target: nfs, posix or s3 (admin)", "backup_targets", body=targets_s.CREATE,
              body_required=True, response=wrap("backup_target", targets_s.BACKUP_TARGET), errors=_CONFLICT),
    Operation("GET", _BT, "showBackupTarget", backup_targets.show_backup_target,
              "Show a backup target (admin)", "backup_targets",
              response=wrap("backup_target", targets_s.BACKUP_TARGET)),
    Operation("PUT", _BT, "updateBackupTarget", backup_targets.update_backup_target,
              "Change a backup target; its type and url only while no workload uses it (admin)",
              "backup_targets", body=targets_s.UPDATE, body_required=True,
              response=wrap("backup_target", targets_s.BACKUP_TARGET), errors=_CONFLICT),
    Operation("DELETE", _BT, "deleteBackupTarget", backup_targets.delete_backup_target,
              "Delete a backup target no workload uses (admin)", "backup_targets", status=202,
              errors=_CONFLICT),
    # trusts
    Operation("GET", "/trusts", "listTrusts", trusts.list_trusts,
              "The trusts the project's users gave T4O's service user", "trusts",
              response=wrap_list("trust", trusts_s.TRUST)),
    Operation("POST", "/trusts", "createTrust", trusts.create_trust,
              "Delegate the caller's role to T4O's service user (replaces the caller's trust)", "trusts",
              body=trusts_s.CREATE, body_required=True, response=wrap_list("trust", trusts_s.TRUST)),
    Operation("GET", "/trusts/{name}", "showTrust", trusts.show_trust, "Show a trust", "trusts",
              response=wrap("trust", trusts_s.TRUST)),
    Operation("DELETE", "/trusts/{name}", "deleteTrust", trusts.delete_trust,
              "Revoke a trust in Keystone and forget it", "trusts", status=202),
]  # fmt: skip

_ERROR_TEXT = {
    400: "Invalid request",
    401: "Authentication required",
    403: "Not allowed by policy",
    404: "Not found, or owned by another project",
    409: "The resource's state does not allow this now",
}


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API."""
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        params: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
            for name in _path_params(op.full_path)
        ]
        params += [
            {"name": n, "in": "query", "required": False, "schema": sch} for n, sch in op.query.items()
        ]
        responses: dict[str, Any] = {
            str(op.status): {
                "description": "Accepted" if op.status == 202 else "OK",
                **({"content": {"application/json": {"schema": op.response}}} if op.response else {}),
                **({"content": op.content} if op.content else {}),
            },
            **op.responses,
        }
        if op.links:
            responses[str(op.status)]["links"] = {
                name: {
                    "operationId": target,
                    "parameters": {"project_id": "$request.path.project_id", **params},
                }
                for name, (target, params) in op.links.items()
            }
        for code in op.errors:
            responses[str(code)] = {
                "description": _ERROR_TEXT[code],
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        entry: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": params,
            "responses": responses,
        }
        if op.body is not None:
            entry["requestBody"] = {
                "required": op.body_required,
                "content": {"application/json": {"schema": op.body}},
            }
        paths.setdefault(op.full_path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "T4O workloadmgr API",
            "version": __version__,
            "description": "Backup and recovery of OpenStack workloads; Trilio workloadmgr v1 compatible "
            "paths. Long work answers 202 with a job (snapshot or restore) to poll.",
        },
        "servers": [{"url": "/"}],
        "security": [{"keystone": []}],
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR},
            "securitySchemes": {"keystone": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"}},
        },
    }
