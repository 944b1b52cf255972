"""API operations of workload policies, project quotas and the scheduled runs of a workload.

Kept apart from t4o.api.spec and added to its OPERATIONS by ``operations(Operation)``; the handlers are in
t4o.api.handlers_policies.
"""

from __future__ import annotations

from typing import Any

from t4o.api import pagination
from t4o.api import schemas as s
from t4o.db import policy_api

STR = {"type": "string", "maxLength": 255}
_TEXT = {"type": "string", "maxLength": 65535}
_ID_LIST = {"type": "array", "maxItems": 1000, "items": STR}

FIELD_VALUES = {"type": "object", "maxProperties": 32}
POLICY_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["workload_policy"],
    "properties": {
        "workload_policy": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "display_name": STR,
                "display_description": _TEXT,
                "field_values": FIELD_VALUES,
                "metadata": {"type": "object", "maxProperties": 64},
            },
        }
    },
}
POLICY = {
    "type": "object",
    "required": ["id", "name", "field_values"],
    "properties": {
        "id": STR,
        "name": STR,
        "display_name": STR,
        "display_description": {"type": "string"},
        "field_values": {"type": "object"},
        "metadata": {"type": "object"},
        "project_list": {"type": "array", "items": {"type": "string"}},
        "created_at": {"type": "string"},
        "updated_at": {"type": "string"},
    },
}
ASSIGN_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["policy"],
    "properties": {
        "policy": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"add_projects": _ID_LIST, "remove_projects": _ID_LIST},
        }
    },
}
ASSIGN_OUT = {
    "type": "object",
    "required": ["policy"],
    "properties": {"policy": {"type": "object"}, "failed_ids": {"type": "array"}},
}
QUOTA_TYPE = {
    "type": "object",
    "required": ["id", "display_name"],
    "properties": {"id": STR, "display_name": STR, "display_description": {"type": "string"}},
}
_INT = {"type": ["integer", "string"], "maxLength": 20}
QUOTA_ITEM = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"quota_type_id": STR, "allowed_value": _INT, "high_watermark": _INT, "project_id": STR},
}
QUOTAS_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["allowed_quotas"],
    "properties": {"allowed_quotas": {"type": "array", "maxItems": 16, "items": QUOTA_ITEM}},
}
QUOTA_UPDATE_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["allowed_quotas"],
    "properties": {"allowed_quotas": QUOTA_ITEM},
}
QUOTA = {
    "type": "object",
    "required": ["id", "project_id", "quota_type_id", "allowed_value", "high_watermark"],
    "properties": {
        "id": STR,
        "project_id": STR,
        "quota_type_id": STR,
        "quota_type_name": STR,
        "allowed_value": {"type": "integer"},
        "high_watermark": {"type": "integer"},
        "usage": {"type": "integer"},
    },
}
RUN = {
    "type": "object",
    "required": ["scheduled_time", "status"],
    "properties": {
        "id": STR,
        "scheduled_time": {"type": "string"},
        "status": STR,
        "snapshot_id": {"type": ["string", "null"]},
        "snapshot_type": {"type": ["string", "null"]},
        "host": {"type": "string"},
        "message": {"type": "string"},
    },
}
METRICS = {
    "type": "object",
    "required": ["metrics"],
    "properties": {
        "metrics": {
            "type": "object",
            "required": ["storage_usage", "protected_vms", "recent_activity", "nodes"],
            "properties": {
                "storage_usage": {"type": "array", "items": {"type": "object"}},
                "protected_vms": {"type": "integer"},
                "protected_volumes": {"type": "integer"},
                "recent_activity": {"type": "array", "items": {"type": "object"}},
                "nodes": {"type": "array", "items": {"type": "object"}},
            },
        }
    },
}
NODE_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["node"],
    "properties": {
        "node": {
            "type": "object",
            "additionalProperties": False,
            "required": ["disabled"],
            "properties": {"disabled": {"type": "boolean"}},
        }
    },
}
NODE_ITEM = {
    "type": "object",
    "required": ["host", "binary", "state", "disabled"],
    "properties": {
        "id": STR,
        "host": STR,
        "binary": STR,
        "state": {"type": "string", "enum": ["up", "down"]},
        "disabled": {"type": "boolean"},
        "last_heartbeat": {"type": "string"},
    },
}
NODE = {"type": "object", "required": ["node"], "properties": {"node": NODE_ITEM}}


def page_query(sort_keys: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """limit, marker, sort_key (one of ``sort_keys``; default the first, ascending) and sort_dir."""
    return {**pagination.QUERY, "sort_key": {"type": "string", "enum": list(sort_keys)}}


def paged(key: str, item: dict[str, Any]) -> dict[str, Any]:
    """A list response with its optional ``<key>_links`` (rel next) for the following page."""
    out = s.wrap_list(key, item)
    out["properties"][f"{key}_links"] = pagination.LINKS_SCHEMA
    return out


_POLICY_PAGE = page_query(policy_api.POLICY_SORT_KEYS)
_ADMIN_ERRORS = (400, 401, 403, 404)
_P = "/workload_policy/{policy_id}"


def operations(op: Any) -> list[Any]:
    """The operations, built with t4o.api.spec.Operation (passed in: spec imports this module)."""
    return [
        op("GET", "/workload_policy/", "listWorkloadPolicies", "list_workload_policies",
           "List workload policies (admin: all; member: those of the project)", "workload_policy",
           query=_POLICY_PAGE, response=paged("policy_list", POLICY)),
        op("POST", "/workload_policy/", "createWorkloadPolicy", "create_workload_policy",
           "Create a workload policy (admin)", "workload_policy", body=POLICY_BODY, body_required=True,
           response=s.wrap("policy", POLICY)),
        op("GET", _P, "showWorkloadPolicy", "show_workload_policy", "Show a workload policy",
           "workload_policy", response=s.wrap("policy", POLICY)),
        op("PUT", _P, "updateWorkloadPolicy", "update_workload_policy", "Change a workload policy (admin)",
           "workload_policy", body=POLICY_BODY, body_required=True, response=s.wrap("policy", POLICY)),
        op("DELETE", _P, "deleteWorkloadPolicy", "delete_workload_policy",
           "Delete a workload policy no workload uses (admin)", "workload_policy", status=202,
           errors=(400, 401, 403, 404, 409)),
        op("POST", _P + "/assign", "assignWorkloadPolicy", "assign_workload_policy",
           "Assign a workload policy to projects or take it back (admin)", "workload_policy",
           body=ASSIGN_BODY, body_required=True, response=ASSIGN_OUT),
        op("GET", "/workload_policy/assigned/{assigned_project_id}", "listAssignedWorkloadPolicies",
           "list_assigned_workload_policies", "Workload policies assigned to a project", "workload_policy",
           query=_POLICY_PAGE, response=paged("policies", POLICY)),
        op("GET", "/project_quota_types", "listProjectQuotaTypes", "list_project_quota_types",
           "The kinds of project quota", "quotas", response=s.wrap_list("quota_types", QUOTA_TYPE)),
        op("GET", "/project_allowed_quotas/{quota_project_id}", "listProjectAllowedQuotas",
           "list_project_allowed_quotas", "A project's allowed quotas, with usage", "quotas",
           query=page_query(policy_api.QUOTA_SORT_KEYS), response=paged("allowed_quotas", QUOTA)),
        op("POST", "/project_allowed_quotas/{quota_project_id}", "createProjectAllowedQuotas",
           "create_project_allowed_quotas", "Set allowed quotas of a project (admin)", "quotas",
           body=QUOTAS_BODY, body_required=True, response=s.wrap_list("allowed_quotas", QUOTA)),
        op("PUT", "/update_allowed_quota/{quota_id}", "updateProjectAllowedQuota",
           "update_project_allowed_quota", "Change an allowed quota (admin)", "quotas",
           body=QUOTA_UPDATE_BODY, body_required=True, response=s.wrap("allowed_quotas", QUOTA)),
        op("DELETE", "/project_allowed_quotas/{quota_id}", "deleteProjectAllowedQuota",
           "delete_project_allowed_quota", "Remove an allowed quota (admin)", "quotas", status=202,
           errors=_ADMIN_ERRORS),
        op("GET", "/workloads/{workload_id}/scheduled_runs", "listScheduledRuns", "list_scheduled_runs",
           "What the cron service did with each scheduled run of a workload", "workloads",
           query=page_query(policy_api.RUN_SORT_KEYS), response=paged("scheduled_runs", RUN)),
        op("GET", "/t4o_metrics", "getMetrics", "get_metrics",
           "Storage per project, protected VMs, recent jobs and service nodes (admin)", "metrics",
           query={"limit": {"type": "integer", "minimum": 1, "maximum": 500}}, response=METRICS),
        op("GET", "/t4o_nodes", "listNodes", "list_nodes",
           "Service nodes (one per host and binary) with their state and whether disabled (admin)", "metrics",
           query=page_query(policy_api.NODE_SORT_KEYS), response=paged("nodes", NODE_ITEM)),
        op("PUT", "/t4o_nodes/{node_host}", "updateNode", "update_node",
           "Disable a workloads node (it takes no new jobs, finishes those it runs) or enable it (admin)",
           "metrics", body=NODE_BODY, body_required=True, response=NODE, errors=_ADMIN_ERRORS),
    ]  # fmt: skip
