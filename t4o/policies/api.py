"""The rules of workload policies, project quotas and the scheduled runs of a workload, as the REST API
calls them: each call is authorized by its own oslo.policy rule (t4o.common.policy), so a policy.yaml can
grant or restrict any of them, then reads or writes the database."""

from __future__ import annotations

from typing import Any

from t4o.common import errors, policy
from t4o.common.context import RequestContext
from t4o.db import api as db
from t4o.db import policy_api
from t4o.db.api import Page
from t4o.db.policy_models import ProjectQuota, ScheduledRun, WorkloadPolicy
from t4o.policies import quotas
from t4o.policies import workload_policies as wp

# ---------------------------------------------------------------- workload policies
list_policies = wp.visible
create_policy = wp.create
get_policy = wp.get
update_policy = wp.update


def delete_policy(ctx: RequestContext, policy_id: str) -> None:
    policy.authorize(ctx, "workload_policy:delete")
    policy_api.policy_delete(policy_id)


def assign_policy(
    ctx: RequestContext, policy_id: str, add: list[str], remove: list[str]
) -> tuple[WorkloadPolicy, list[str]]:
    """Assign the policy to the projects ``add`` and take it back from ``remove``; the policy and the
    projects it is assigned to now."""
    policy.authorize(ctx, "workload_policy:assign")
    projects = policy_api.policy_assign(policy_id, add, remove)
    return policy_api.policy_get(policy_id), projects


def assigned_policies(ctx: RequestContext, project_id: str, page: Page) -> list[WorkloadPolicy]:
    policy.authorize(ctx, "workload_policy:get_assigned", project_id)
    return policy_api.policy_list(project_id, page)


# ---------------------------------------------------------------- quotas
def quota_types(ctx: RequestContext) -> list[dict[str, Any]]:
    policy.authorize(ctx, "project_quota_type:get")
    return quotas.QUOTA_TYPES


def allowed_quotas(
    ctx: RequestContext, project_id: str, page: Page
) -> tuple[list[ProjectQuota], dict[str, int]]:
    """One page of the project's allowed quotas, and the project's usage of each kind."""
    policy.authorize(ctx, "project_quota:get", project_id)
    usage = quotas.usage(project_id)
    return policy_api.quota_list(project_id, page), usage


def set_allowed_quotas(ctx: RequestContext, project_id: str, items: list[Any]) -> list[ProjectQuota]:
    """Create or replace the project's allowed quota of each kind in ``items``."""
    policy.authorize(ctx, "project_quota:create", project_id)
    parsed = [quotas.parse_item(i) for i in items]
    return [policy_api.quota_upsert(project_id, t, a, h) for t, a, h in parsed]


def update_allowed_quota(ctx: RequestContext, quota_id: str, values: dict[str, Any]) -> ProjectQuota:
    policy.authorize(ctx, "project_quota:update")
    current = policy_api.quota_get(quota_id)
    type_id, allowed, high = quotas.parse_item({"quota_type_id": current.quota_type_id, **values})
    if type_id != current.quota_type_id:
        raise errors.BadRequest("The quota_type_id of an allowed quota cannot change; delete it instead.")
    return policy_api.quota_update(quota_id, allowed, high)


def delete_allowed_quota(ctx: RequestContext, quota_id: str) -> None:
    policy.authorize(ctx, "project_quota:delete")
    policy_api.quota_delete(quota_id)


# ---------------------------------------------------------------- scheduled runs
def scheduled_runs(ctx: RequestContext, workload_id: str, page: Page) -> list[ScheduledRun]:
    """What the cron service did with each scheduled run of a workload of the caller's project."""
    policy.authorize(ctx, "workload:get_scheduled_runs")
    db.workload_get(workload_id, None if ctx.is_admin else ctx.project_id)  # 404 for other projects
    return policy_api.run_list(workload_id, page)


def scheduled_run(ctx: RequestContext, workload_id: str, run_id: str) -> ScheduledRun:
    """One scheduled run of a workload of the caller's project."""
    policy.authorize(ctx, "workload:get_scheduled_runs")
    db.workload_get(workload_id, None if ctx.is_admin else ctx.project_id)  # 404 for other projects
    return policy_api.run_get(workload_id, run_id)
