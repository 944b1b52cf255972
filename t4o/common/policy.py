"""Authorization rules (oslo.policy). Defaults live here; a policy.yaml overrides any of them."""

from __future__ import annotations

import time
from typing import Any

from oslo_config import cfg
from oslo_policy import policy

from t4o.common import errors
from t4o.common.config import CONF
from t4o.common.context import RequestContext

ADMIN = "role:admin"
ADMIN_OR_OWNER = "rule:context_is_admin or project_id:%(project_id)s"

BASE_RULES = [
    policy.RuleDefault("context_is_admin", ADMIN, description="Who is an administrator."),
    policy.RuleDefault("admin_or_owner", ADMIN_OR_OWNER, description="An administrator or the owner."),
    policy.RuleDefault("admin_api", "rule:context_is_admin", description="Administrators only."),
]


def _op(name: str, check: str, method: str, path: str, description: str) -> policy.DocumentedRuleDefault:
    return policy.DocumentedRuleDefault(
        name=name,
        check_str=check,
        description=description,
        operations=[{"method": method, "path": path}],
    )


_P = "/v1/{project_id}"
OWNER = "rule:admin_or_owner"
ADMIN_ONLY = "rule:admin_api"

API_RULES = [
    _op("workload_type:get", OWNER, "GET", _P + "/workload_types", "List and show workload types."),
    _op("workload:get", OWNER, "GET", _P + "/workloads/{workload_id}", "Show a workload."),
    _op("workload:get_all", OWNER, "GET", _P + "/workloads", "List the project's workloads."),
    _op(
        "workload:get_all_projects",
        ADMIN_ONLY,
        "GET",
        _P + "/workloads?all_workloads=True",
        "List the workloads of every project.",
    ),
    _op("workload:create", OWNER, "POST", _P + "/workloads", "Create a workload."),
    _op("workload:update", OWNER, "PUT", _P + "/workloads/{workload_id}", "Modify a workload."),
    _op("workload:delete", OWNER, "DELETE", _P + "/workloads/{workload_id}", "Delete a workload."),
    _op("workload:snapshot", OWNER, "POST", _P + "/workloads/{workload_id}", "Take a snapshot."),
    _op("workload:pause", OWNER, "POST", _P + "/workloads/{workload_id}/pause", "Pause the schedule."),
    _op("workload:resume", OWNER, "POST", _P + "/workloads/{workload_id}/resume", "Resume the schedule."),
    _op("workload:unlock", OWNER, "POST", _P + "/workloads/{workload_id}/unlock", "Unlock a workload."),
    _op(
        "workload:reset",
        OWNER,
        "POST",
        _P + "/workloads/{workload_id}/reset",
        "Resolve a workload's stuck jobs (marks them error) and make it available.",
    ),
    _op("snapshot:get", OWNER, "GET", _P + "/snapshots/{snapshot_id}", "List and show snapshots."),
    _op(
        "snapshot:get_all_projects",
        ADMIN_ONLY,
        "GET",
        _P + "/snapshots?all=True",
        "Every project's snapshots.",
    ),
    _op("snapshot:delete", OWNER, "DELETE", _P + "/snapshots/{snapshot_id}", "Delete a snapshot."),
    _op("snapshot:cancel", OWNER, "GET", _P + "/snapshots/{snapshot_id}/cancel", "Cancel a snapshot."),
    _op(
        "snapshot:browse",
        OWNER,
        "GET",
        _P + "/snapshots/{snapshot_id}/vms/{vm_id}/disks/{disk}/browse",
        "List a directory of a snapshot disk's filesystem.",
    ),
    _op(
        "snapshot:download",
        OWNER,
        "GET",
        _P + "/snapshots/{snapshot_id}/vms/{vm_id}/disks/{disk}/download",
        "Download a file, or a directory as a tar stream, from a snapshot disk.",
    ),
    # snapshot mount
    _op(
        "snapshot:mount",
        OWNER,
        "POST",
        _P + "/snapshots/{snapshot_id}/mount",
        "Attach a snapshot's disks read-only to a recovery VM of the project.",
    ),
    _op(
        "snapshot:dismount",
        OWNER,
        "POST",
        _P + "/snapshots/{snapshot_id}/dismount",
        "Detach a mounted snapshot's disks from its recovery VM.",
    ),
    _op(
        "snapshot:mounted_list",
        OWNER,
        "GET",
        _P + "/snapshots/mounted/list",
        "List the project's mounted snapshots.",
    ),
    _op(
        "snapshot:file_search",
        OWNER,
        "POST",
        _P + "/search",
        "Search a VM's snapshots for files by path, glob or regular expression, and read the results.",
    ),
    _op("restore:create", OWNER, "POST", _P + "/snapshots/{snapshot_id}", "Restore from a snapshot."),
    _op("restore:get", OWNER, "GET", _P + "/restores/{restore_id}", "List and show restores."),
    _op("restore:delete", OWNER, "DELETE", _P + "/restores/{restore_id}", "Delete a restore record."),
    _op("restore:cancel", OWNER, "GET", _P + "/restores/{restore_id}/cancel", "Cancel a restore."),
    _op("setting:get", OWNER, "GET", _P + "/settings", "List and show the project's settings."),
    _op("setting:set", OWNER, "POST", _P + "/settings", "Create or update the project's settings."),
    _op("setting:delete", OWNER, "DELETE", _P + "/settings/{name}", "Delete a setting."),
    _op(
        "global_job_scheduler:get",
        OWNER,
        "GET",
        _P + "/global_job_scheduler",
        "Whether scheduled snapshots run.",
    ),
    _op(
        "global_job_scheduler:set",
        ADMIN_ONLY,
        "POST",
        _P + "/global_job_scheduler/enable",
        "Enable or disable every scheduled snapshot.",
    ),
    policy.DocumentedRuleDefault(
        name="workload:get_scheduled_runs",
        check_str=OWNER,
        description="List and show what the cron service did with each scheduled run of a workload.",
        operations=[
            {"method": "GET", "path": _P + "/workloads/{workload_id}/scheduled_runs"},
            {"method": "GET", "path": _P + "/workloads/{workload_id}/scheduled_runs/{run_id}"},
        ],
    ),
    # workload policies: admin-defined schedule and retention templates assigned to projects
    _op(
        "workload_policy:get",
        OWNER,
        "GET",
        _P + "/workload_policy/",
        "List and show the workload policies assigned to the project.",
    ),
    _op(
        "workload_policy:get_all",
        ADMIN_ONLY,
        "GET",
        _P + "/workload_policy/{policy_id}",
        "List and show every workload policy, with the projects it is assigned to.",
    ),
    _op(
        "workload_policy:get_assigned",
        OWNER,
        "GET",
        _P + "/workload_policy/assigned/{assigned_project_id}",
        "List the workload policies assigned to a project (the target is that project).",
    ),
    _op("workload_policy:create", ADMIN_ONLY, "POST", _P + "/workload_policy/", "Create a workload policy."),
    _op(
        "workload_policy:update",
        ADMIN_ONLY,
        "PUT",
        _P + "/workload_policy/{policy_id}",
        "Change a workload policy.",
    ),
    _op(
        "workload_policy:delete",
        ADMIN_ONLY,
        "DELETE",
        _P + "/workload_policy/{policy_id}",
        "Delete a workload policy no workload uses.",
    ),
    _op(
        "workload_policy:assign",
        ADMIN_ONLY,
        "POST",
        _P + "/workload_policy/{policy_id}/assign",
        "Assign a workload policy to projects or take it back.",
    ),
    # project quotas
    _op(
        "project_quota_type:get",
        OWNER,
        "GET",
        _P + "/project_quota_types",
        "List the kinds of project quota.",
    ),
    _op(
        "project_quota:get",
        OWNER,
        "GET",
        _P + "/project_allowed_quotas/{quota_project_id}",
        "List a project's allowed quotas with its usage (the target is that project).",
    ),
    _op(
        "project_quota:create",
        ADMIN_ONLY,
        "POST",
        _P + "/project_allowed_quotas/{quota_project_id}",
        "Set allowed quotas of a project.",
    ),
    _op(
        "project_quota:update",
        ADMIN_ONLY,
        "PUT",
        _P + "/update_allowed_quota/{quota_id}",
        "Change an allowed quota.",
    ),
    _op(
        "project_quota:delete",
        ADMIN_ONLY,
        "DELETE",
        _P + "/project_allowed_quotas/{quota_id}",
        "Remove an allowed quota.",
    ),
    # cloud-wide administration
    _op(
        "metrics:get",
        ADMIN_ONLY,
        "GET",
        _P + "/t4o_metrics",
        "Read storage per project, protected VMs, recent jobs and service nodes (also at "
        "/workloads/metrics and /workloads/metrics/{nodes,storage_usage,tenants_usage,vms_protected,"
        "recentactivities}).",
    ),
    _op("node:get_all", ADMIN_ONLY, "GET", _P + "/t4o_nodes", "List the service nodes and their state."),
    _op(
        "node:update",
        ADMIN_ONLY,
        "PUT",
        _P + "/t4o_nodes/{node_host}",
        "Disable or enable the workloads worker of a node (also POST /workloads/service/update).",
    ),
    # disaster recovery: the backup target read back into the database
    _op(
        "workload:get_import_workloads_list",
        ADMIN_ONLY,
        "GET",
        _P + "/workloads/get_list/import_workloads",
        "List the workloads on the backup target and whether the database has them.",
    ),
    _op(
        "workload:import_workloads",
        ADMIN_ONLY,
        "POST",
        _P + "/workloads/import_workloads",
        "Import workloads and their snapshots from the backup target.",
    ),
    _op(
        "workload:get_orphaned_workloads_list",
        ADMIN_ONLY,
        "GET",
        _P + "/workloads/orphan_workloads",
        "List the workloads on the backup target whose project or user no longer exists.",
    ),
    _op(
        "workload:reassign_workloads",
        ADMIN_ONLY,
        "POST",
        _P + "/workloads/reassign_workloads",
        "Move workloads to another project and user.",
    ),
    # backup targets: where snapshots are stored, chosen per workload
    _op("backup_target:get", ADMIN_ONLY, "GET", _P + "/backup_targets", "List and show the backup targets."),
    _op("backup_target:create", ADMIN_ONLY, "POST", _P + "/backup_targets", "Define a backup target."),
    _op(
        "backup_target:update",
        ADMIN_ONLY,
        "PUT",
        _P + "/backup_targets/{backup_target_id}",
        "Change a backup target (its url only while no workload uses it).",
    ),
    _op(
        "backup_target:delete",
        ADMIN_ONLY,
        "DELETE",
        _P + "/backup_targets/{backup_target_id}",
        "Delete a backup target no workload uses.",
    ),
    # trusts, the audit log and the test email
    _op("trust:get", OWNER, "GET", _P + "/trusts", "List and show the trusts of the project's users."),
    _op("trust:create", OWNER, "POST", _P + "/trusts", "Delegate the caller's role to T4O's service user."),
    _op("trust:delete", OWNER, "DELETE", _P + "/trusts/{name}", "Revoke a trust and forget it."),
    _op(
        "audit:get",
        ADMIN_ONLY,
        "GET",
        _P + "/workloads/audit/auditlog",
        "Read the audit log (an administrator reads every project's, anyone else only their project's).",
    ),
    _op(
        "email:test",
        OWNER,
        "GET",
        _P + "/workloads/email/test_email",
        "Send a test email with the project's SMTP settings.",
    ),
]


def list_rules() -> list[policy.RuleDefault]:
    """Entry point of oslopolicy-sample-generator (namespace 't4o')."""
    return BASE_RULES + API_RULES


# How often the enforcer looks for a changed policy.yaml (oslo.policy looks on every check, searching the
# configuration directories each time: most of an API request's CPU was spent there).
RELOAD_INTERVAL = 1.0
_MAX_DECISIONS = 4096


class Enforcer(policy.Enforcer):
    """oslo.policy's enforcer that reloads its rules at most every RELOAD_INTERVAL seconds and remembers
    its decisions until then: a decision depends only on the rules, the target and the credentials."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        super().__init__(conf)
        self._next_load = 0.0
        self.decisions: dict[tuple[Any, ...], bool] = {}

    def load_rules(self, force_reload: bool = False) -> None:
        now = time.monotonic()
        if force_reload or now >= self._next_load or not self.rules:
            super().load_rules(force_reload)
            self._next_load = now + RELOAD_INTERVAL
            self.decisions = {}

    def clear(self) -> None:
        super().clear()
        self._next_load = 0.0
        self.decisions = {}


_ENFORCER: Enforcer | None = None


def get_enforcer(conf: cfg.ConfigOpts | None = None) -> Enforcer:
    """Entry point 'oslo.policy.enforcer' and the enforcer the API uses."""
    global _ENFORCER
    if _ENFORCER is None:
        _ENFORCER = Enforcer(conf or CONF)
        _ENFORCER.register_defaults(list_rules())
    return _ENFORCER


def reset() -> None:
    global _ENFORCER
    if _ENFORCER is not None:
        _ENFORCER.clear()
    _ENFORCER = None


def _frozen(values: Any) -> tuple[Any, ...]:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in dict(values).items()))


def _allowed(action: str, target: dict[str, Any], context: RequestContext, registered: bool) -> bool:
    enforcer = get_enforcer()
    enforcer.load_rules()
    creds = context.to_policy_values()
    key = (action, registered, _frozen(target), _frozen(creds))
    decision = enforcer.decisions.get(key)
    if decision is None:
        if registered:  # authorize() also refuses an action that has no registered rule
            decision = bool(enforcer.authorize(action, target, creds, do_raise=False))
        else:
            decision = bool(enforcer.enforce(action, target, creds))
        if len(enforcer.decisions) >= _MAX_DECISIONS:
            enforcer.decisions = {}
        enforcer.decisions[key] = decision
    return decision


def is_admin(context: RequestContext) -> bool:
    return _allowed("context_is_admin", {}, context, registered=False)


def check(context: RequestContext, action: str, target_project_id: str | None = None) -> bool:
    """Whether the policy allows ``action``: for calls whose answer depends on it (e.g. what a list shows)."""
    target = {"project_id": target_project_id or context.project_id}
    return _allowed(action, target, context, registered=False)


def authorize(context: RequestContext, action: str, target_project_id: str | None = None) -> None:
    """Raise Forbidden unless the policy allows ``action`` on a resource of ``target_project_id``."""
    target = {"project_id": target_project_id or context.project_id}
    if not _allowed(action, target, context, registered=True):
        raise errors.Forbidden(f"Policy does not allow {action} to be performed.")
