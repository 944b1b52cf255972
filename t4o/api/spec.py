"""The API's one source of truth: every operation with its parameters, body schema and responses.

The Flask routes, request validation and the OpenAPI 3.1 document (served at /openapi.json and kept in
docs/openapi.yaml) are all generated from OPERATIONS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from t4o import __version__
from t4o.api import pagination, spec_policies
from t4o.api import schemas as s
from t4o.db.api import SETTING_SORT_KEYS, WORKLOAD_TYPE_SORT_KEYS

BOOL = {"type": "boolean"}
STR = {"type": "string", "maxLength": 255}
DATE = {"type": "string", "format": "date-time"}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # below /v1/{project_id}
    operation_id: str
    handler: str  # function name in t4o.api.handlers
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

_PAGE = pagination.QUERY
# Workload types and settings page by name by default; a setting's marker is its name.
_TYPE_PAGE = pagination.query(WORKLOAD_TYPE_SORT_KEYS)
_SETTING_PAGE = pagination.query(SETTING_SORT_KEYS, marker_length=255)
_SNAPSHOT_QUERY = {
    "workload_id": STR,
    "status": STR,
    "date_from": DATE,
    "date_to": DATE,
    "all": BOOL,
    **_PAGE,
}


def _paged(key: str, item: dict[str, Any]) -> dict[str, Any]:
    """A list response with its optional ``<key>_links`` (rel next) for the following page."""
    out = s.wrap_list(key, item)
    out["properties"][f"{key}_links"] = pagination.LINKS_SCHEMA
    return out


_WL = "/workloads/{workload_id}"
_SN = "/snapshots/{snapshot_id}"
_RS = "/restores/{restore_id}"

OPERATIONS: list[Operation] = [
    # workload types
    Operation("GET", "/workload_types", "listWorkloadTypes", "list_workload_types", "List workload types",
              "workload_types", query=_TYPE_PAGE, response=_paged("workload_types", s.WORKLOAD_TYPE)),
    Operation("GET", "/workload_types/detail", "listWorkloadTypesDetail", "list_workload_types",
              "List workload types with details", "workload_types", query=_TYPE_PAGE,
              response=_paged("workload_types", s.WORKLOAD_TYPE)),
    Operation("GET", "/workload_types/{workload_type_id}", "showWorkloadType", "show_workload_type",
              "Show a workload type", "workload_types", response=s.wrap("workload_type", s.WORKLOAD_TYPE)),
    # workloads
    Operation("GET", "/workloads", "listWorkloads", "list_workloads", "List workloads", "workloads",
              query={"all_workloads": BOOL, **_PAGE}, response=_paged("workloads", s.WORKLOAD)),
    Operation("GET", "/workloads/detail", "listWorkloadsDetail", "list_workloads_detail",
              "List workloads with details", "workloads", query={"all_workloads": BOOL, **_PAGE},
              response=_paged("workloads", s.WORKLOAD)),
    Operation("POST", "/workloads", "createWorkload", "create_workload", "Create a workload", "workloads",
              status=202, body=s.WORKLOAD_CREATE, body_required=True, response=s.wrap("workload", s.WORKLOAD),
              errors=(400, 401, 403, 404, 409), links=_WORKLOAD_LINKS),
    Operation("GET", _WL, "showWorkload", "show_workload", "Show a workload with its storage usage",
              "workloads", response=s.wrap("workload", s.WORKLOAD)),
    Operation("PUT", _WL, "updateWorkload", "update_workload", "Modify a workload (instances, schedule)",
              "workloads", status=202, body=s.WORKLOAD_UPDATE, body_required=True,
              response=s.wrap("workload", s.WORKLOAD), errors=(400, 401, 403, 404, 409)),
    Operation("DELETE", _WL, "deleteWorkload", "delete_workload", "Delete a workload", "workloads",
              status=202, query={"database_only": BOOL}, errors=(400, 401, 403, 404, 409)),
    Operation("POST", _WL, "snapshotWorkload", "snapshot_workload",
              "Take a snapshot (full with ?full=1); 202 and a queued snapshot", "workloads", status=202,
              query={"full": {"type": "string", "enum": ["0", "1", "true", "false", "True", "False"]}},
              body=s.SNAPSHOT_CREATE, response=s.wrap("snapshot", s.SNAPSHOT),
              errors=(400, 401, 403, 404, 409), links=_SNAPSHOT_LINKS),
    Operation("POST", _WL + "/pause", "pauseWorkload", "pause_workload", "Pause the workload's schedule",
              "workloads", response=s.wrap("workload", s.WORKLOAD)),
    Operation("POST", _WL + "/resume", "resumeWorkload", "resume_workload", "Resume the workload's schedule",
              "workloads", response=s.wrap("workload", s.WORKLOAD)),
    Operation("POST", _WL + "/unlock", "unlockWorkload", "unlock_workload",
              "Make a locked workload available when no job of it runs", "workloads",
              response=s.wrap("workload", s.WORKLOAD), errors=(400, 401, 403, 404, 409)),
    Operation("POST", _WL + "/reset", "resetWorkload", "reset_workload",
              "Mark the workload's unfinished jobs as error and make it available", "workloads",
              response=s.wrap("workload", s.WORKLOAD)),
    # snapshots
    Operation("GET", "/snapshots", "listSnapshots", "list_snapshots", "List snapshots", "snapshots",
              query=_SNAPSHOT_QUERY, response=_paged("snapshots", s.SNAPSHOT)),
    Operation("GET", "/snapshots/detail", "listSnapshotsDetail", "list_snapshots_detail",
              "List snapshots with details", "snapshots",
              query=_SNAPSHOT_QUERY, response=_paged("snapshots", s.SNAPSHOT)),
    Operation("GET", _SN, "showSnapshot", "show_snapshot", "Show a snapshot (VMs, sizes, progress)",
              "snapshots", response=s.wrap("snapshot", s.SNAPSHOT)),
    Operation("DELETE", _SN, "deleteSnapshot", "delete_snapshot", "Delete a snapshot", "snapshots",
              status=202, errors=(400, 401, 403, 404, 409)),
    Operation("GET", _SN + "/cancel", "cancelSnapshot", "cancel_snapshot", "Cancel a running snapshot",
              "snapshots", response=s.wrap("snapshot", s.SNAPSHOT), errors=(400, 401, 403, 404, 409)),
    Operation("POST", _SN, "restoreSnapshot", "create_restore",
              "Restore from a snapshot (oneclick, selective, inplace); 202 and a queued restore", "restores",
              status=202, body=s.RESTORE_CREATE, body_required=True, response=s.wrap("restore", s.RESTORE),
              errors=(400, 401, 403, 404, 409), links=_RESTORE_LINKS),
    Operation("POST", _WL + "/snapshots/{snapshot_id}/restores", "restoreWorkloadSnapshot",
              "create_workload_restore", "Restore from a snapshot of this workload (same body)", "restores",
              status=202, body=s.RESTORE_CREATE, body_required=True, response=s.wrap("restore", s.RESTORE),
              errors=(400, 401, 403, 404, 409), links=_RESTORE_LINKS),
    # restores
    Operation("GET", "/restores", "listRestores", "list_restores", "List restores", "restores",
              query={"snapshot_id": STR, **_PAGE}, response=_paged("restores", s.RESTORE)),
    Operation("GET", "/restores/detail", "listRestoresDetail", "list_restores_detail",
              "List restores with details", "restores", query={"snapshot_id": STR, **_PAGE},
              response=_paged("restores", s.RESTORE)),
    Operation("GET", _RS, "showRestore", "show_restore", "Show a restore", "restores",
              response=s.wrap("restore", s.RESTORE)),
    Operation("DELETE", _RS, "deleteRestore", "delete_restore", "Delete a finished restore's record",
              "restores", status=202, errors=(400, 401, 403, 404, 409)),
    Operation("GET", _RS + "/cancel", "cancelRestore", "cancel_restore", "Cancel a running restore",
              "restores", response=s.wrap("restore", s.RESTORE), errors=(400, 401, 403, 404, 409)),
    # settings
    Operation("GET", "/settings", "listSettings", "list_settings",
              "List the project's settings (by name; a setting's name is its marker)", "settings",
              query=_SETTING_PAGE, response=_paged("settings", s.SETTING_OUT)),
    Operation("POST", "/settings", "createSettings", "create_settings", "Create settings", "settings",
              body=s.SETTINGS_BODY, body_required=True, response=s.wrap_list("settings", s.SETTING_OUT),
              errors=(400, 401, 403, 404, 409)),
    Operation("PUT", "/settings", "updateSettings", "update_settings", "Create or update settings",
              "settings",
              body=s.SETTINGS_BODY, body_required=True, response=s.wrap_list("settings", s.SETTING_OUT),
              errors=(400, 401, 403, 404, 409)),
    Operation("GET", "/settings/{name}", "showSetting", "show_setting", "Show a setting", "settings",
              response=s.wrap("setting", s.SETTING_OUT)),
    Operation("DELETE", "/settings/{name}", "deleteSetting", "delete_setting", "Delete a setting", "settings",
              status=202),
    # global job scheduler
    Operation("GET", "/global_job_scheduler", "getGlobalJobScheduler", "get_global_job_scheduler",
              "Whether scheduled snapshots run", "global_job_scheduler", response=s.GLOBAL_JOB_SCHEDULER),
    Operation("POST", "/global_job_scheduler/enable", "enableGlobalJobScheduler",
              "enable_global_job_scheduler", "Enable scheduled snapshots (admin)", "global_job_scheduler",
              response=s.GLOBAL_JOB_SCHEDULER),
    Operation("POST", "/global_job_scheduler/disable", "disableGlobalJobScheduler",
              "disable_global_job_scheduler", "Disable scheduled snapshots (admin)", "global_job_scheduler",
              response=s.GLOBAL_JOB_SCHEDULER),
    *spec_policies.operations(Operation),
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
            }
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
            "schemas": {"Error": s.ERROR},
            "securitySchemes": {"keystone": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"}},
        },
    }
