"""Workload policies: admin-defined schedule and retention templates assigned to projects.

``field_values`` holds jobschedule fields (Trilio: interval, retention_policy_type, retention_policy_value,
fullbackup_interval; calendar tiers are accepted too, ``rpo_hours`` and the backup ``window``) and is
validated like a workload's jobschedule. A workload created with ``metadata.policy_id`` takes its schedule
fields from the policy, which must be assigned to the workload's project, and cannot override them
(``apply_policy``). When an admin changes a policy's fields, every workload that follows it gets them
(``update``).

``field_values.backup_target_id`` (optional, Trilio 5.x/6.x) names the backup target of the workloads that
follow the policy. A workload never changes target, so the target is not a schedule field: a new workload
lands on it (the workloads layer), an existing one takes the policy only if it is already there, and the
policy's target changes only while every workload that follows it is on the new one (``update``, 409
otherwise). A change of ``field_values`` that does not name ``backup_target_id`` keeps the policy's target;
``backup_target_id: null`` (or "") removes it.
"""

from __future__ import annotations

from typing import Any

from t4o.common import errors, policy
from t4o.common.context import RequestContext
from t4o.common.log import get_logger
from t4o.db import backup_target_api as targets_db
from t4o.db import policy_api as db
from t4o.db.api import Page
from t4o.db.policy_models import WorkloadPolicy
from t4o.policies import jobschedule

LOG = get_logger(__name__)

# jobschedule fields a policy decides; the workload keeps enabled, start_date/time, end_date, timezone.
POLICY_FIELDS = (
    "interval",
    "retention_policy_type",
    "retention_policy_value",
    "fullbackup_interval",
    *jobschedule.TIERS,
    "manual",
    "rpo_hours",
    "window",  # when scheduled snapshots may start (t4o.policies.windows)
)
TARGET_FIELD = "backup_target_id"
CONFIG_TARGET_ID = "config"  # the [backup_target] of the configuration, as the API names it


def _target(raw: Any) -> str:
    """The backup target a policy names: 400 unless it exists."""
    target_id = str(raw).strip() if isinstance(raw, str) else ""
    if not target_id:
        raise errors.BadRequest(f"workload_policy.field_values.{TARGET_FIELD} must be a backup target id.")
    if target_id != CONFIG_TARGET_ID:
        try:
            targets_db.target_get(target_id)
        except errors.NotFound:
            raise errors.BadRequest(
                f"workload_policy.field_values.{TARGET_FIELD}: backup target {target_id} does not exist."
            ) from None
    return target_id


def _field_values(raw: Any, keep_target: str | None = None) -> dict[str, Any]:
    """The checked ``field_values``; ``keep_target``: the policy's target, kept unless ``raw`` names one."""
    if not isinstance(raw, dict) or not raw:
        raise errors.BadRequest("workload_policy.field_values must be a non-empty object.")
    unknown = sorted(set(raw) - {*POLICY_FIELDS, TARGET_FIELD})
    if unknown:
        raise errors.BadRequest(
            f"workload_policy.field_values: unknown field(s) {', '.join(unknown)}; allowed: "
            + ", ".join((*POLICY_FIELDS, TARGET_FIELD))
            + "."
        )
    values = schedule_values(raw)
    jobschedule.parse({"enabled": False, **values})
    if TARGET_FIELD not in raw:
        target = keep_target
    else:
        target = None if raw[TARGET_FIELD] in (None, "") else _target(raw[TARGET_FIELD])
    if target is None and not values:
        raise errors.BadRequest("workload_policy.field_values must name a schedule field or a backup target.")
    return {**values, TARGET_FIELD: target} if target else values


def schedule_values(field_values: dict[str, Any]) -> dict[str, Any]:
    """The schedule fields of a policy's ``field_values`` (what a workload's jobschedule takes)."""
    return {k: v for k, v in field_values.items() if k != TARGET_FIELD}


def target_of(policy_id: str | None) -> tuple[str, str] | None:
    """(target id, policy name) of the policy ``policy_id`` when it names a backup target."""
    if not policy_id:
        return None
    try:
        pol = db.policy_get(str(policy_id))
    except errors.NotFound:  # the schedule's checks say so first (400)
        return None
    target = pol.field_values.get(TARGET_FIELD)
    return (str(target), pol.name) if target else None


def _refuse_target_change(pol: WorkloadPolicy, target: str | None) -> None:
    """409 when the policy would name a target other than the one its workloads are on."""
    if not target or target == pol.field_values.get(TARGET_FIELD):
        return
    elsewhere = targets_db.policy_workloads_elsewhere(pol.id, None if target == CONFIG_TARGET_ID else target)
    if elsewhere:
        raise errors.Conflict(
            f"Workload policy {pol.name} is followed by {elsewhere} workload(s) on another backup target "
            f"than {target}, and a workload's backup target cannot change: keep the policy's target, or "
            "create another policy for the new one."
        )


def _unique_name(name: str, policy_id: str | None = None) -> str:
    """409 when another policy has ``name`` (case and spaces aside): policies are cloud-wide, so their
    names are unique in the cloud."""
    key = name.casefold()
    for other in db.policy_list():
        if other.id != policy_id and other.name.strip().casefold() == key:
            raise errors.Conflict(
                f"A workload policy named {other.name!r} exists already; choose another name."
            )
    return name


def create(ctx: RequestContext, body: dict[str, Any]) -> WorkloadPolicy:
    policy.authorize(ctx, "workload_policy:create")
    name = str(body.get("display_name") or "").strip()
    if not name:
        raise errors.BadRequest("workload_policy.display_name is required.")
    _unique_name(name)
    return db.policy_create(
        {
            "name": name,
            "description": body.get("display_description") or "",
            "field_values": _field_values(body.get("field_values")),
            "metadata_": body.get("metadata") or {},
        }
    )


def update(ctx: RequestContext, policy_id: str, body: dict[str, Any]) -> WorkloadPolicy:
    policy.authorize(ctx, "workload_policy:update")
    values: dict[str, Any] = {}
    if "display_name" in body:
        name = str(body["display_name"] or "").strip()
        values["name"] = _unique_name(name, policy_id) if name else db.policy_get(policy_id).name
    if "display_description" in body:
        values["description"] = body["display_description"] or ""
    if "field_values" in body:
        before = db.policy_get(policy_id)
        values["field_values"] = _field_values(body["field_values"], before.field_values.get(TARGET_FIELD))
        _refuse_target_change(before, values["field_values"].get(TARGET_FIELD))
    if "metadata" in body:
        values["metadata_"] = body["metadata"] or {}
    pol = db.policy_update(policy_id, values)
    if "field_values" in values:
        # Workloads follow their policy: cron reads their schedule, so they run by the new one next tick.
        count = db.policy_workloads_follow(policy_id, POLICY_FIELDS, schedule_values(pol.field_values))
        LOG.info(
            "Workload policy %s changed; %d workload(s) follow its new schedule fields", policy_id, count
        )
    return pol


def sees_all(ctx: RequestContext) -> bool:
    """Whether the caller sees every policy and its projects (rule workload_policy:get_all, admins by
    default), rather than those assigned to their project (workload_policy:get)."""
    if policy.check(ctx, "workload_policy:get_all"):
        return True
    policy.authorize(ctx, "workload_policy:get")
    return False


def visible(ctx: RequestContext, page: Page | None = None) -> list[WorkloadPolicy]:
    """One page of every policy, or of those assigned to the caller's project."""
    return db.policy_list(None if sees_all(ctx) else ctx.project_id, page)


def get(ctx: RequestContext, policy_id: str) -> tuple[WorkloadPolicy, list[str] | None]:
    """The policy, with its projects for a caller who sees all; 404 when not assigned to the caller's."""
    everything = sees_all(ctx)
    pol = db.policy_get(policy_id)
    projects = db.policy_projects(policy_id)
    if not everything and ctx.project_id not in projects:
        raise errors.NotFound(f"Workload policy {policy_id} not found.")
    return pol, projects if everything else None


def apply_policy(project_id: str, jobschedule_in: dict[str, Any], policy_id: str) -> dict[str, Any]:
    """The jobschedule of a workload created with ``policy_id``: the policy's fields win."""
    if project_id not in db.policy_projects(policy_id):
        raise errors.BadRequest(f"Workload policy {policy_id} is not assigned to project {project_id}.")
    pol = db.policy_get(policy_id)
    clash = sorted(
        k for k in POLICY_FIELDS if k in jobschedule_in and jobschedule_in[k] != pol.field_values.get(k)
    )
    if clash:
        raise errors.BadRequest(
            f"The workload follows policy {pol.name}; it cannot set {', '.join(clash)} itself."
        )
    return {**jobschedule_in, **schedule_values(pol.field_values)}
