"""What the workloads API calls when a workload or snapshot is created or a schedule changes.

One call per place: the schedule is validated (400 naming the field), a workload policy given in
``metadata.policy_id`` decides the schedule fields, quotas are checked (403), and an enabled schedule
under Keystone gets the owner's trust while their token is at hand. The quota hooks that take a session
run again inside the transaction that inserts (the database layer's ``quota_guard``), under the
project's quota lock: that second check is the one that holds under concurrent requests.
"""

from __future__ import annotations

from typing import Any

from oslo_config import cfg
from sqlalchemy.orm import Session

from t4o.common.context import RequestContext
from t4o.common.log import get_logger
from t4o.db import policy_api
from t4o.policies import jobschedule, quotas, trusts
from t4o.policies import workload_policies as wp

LOG = get_logger(__name__)


def _schedule(
    ctx: RequestContext, project_id: str, raw: dict[str, Any], metadata: dict[str, Any]
) -> dict[str, Any]:
    policy_id = (metadata or {}).get("policy_id")
    if policy_id:
        raw = wp.apply_policy(project_id, raw, str(policy_id))
    schedule = jobschedule.parse(raw)
    if schedule.enabled and cfg.CONF.auth_strategy == "keystone" and ctx.auth_token:
        trusts.ensure_trust(cfg.CONF, ctx)
    elif schedule.enabled:
        LOG.info(
            "Schedule of project %s enabled without a Keystone trust (auth_strategy=%s): scheduled jobs "
            "run as the workload's owner without a token",
            project_id,
            cfg.CONF.auth_strategy,
        )
    return raw


def on_workload_create(
    ctx: RequestContext, body: dict[str, Any], vms: list[dict[str, Any]]
) -> dict[str, Any]:
    """The jobschedule to store for a new workload of ``ctx.project_id``; raises 400/403.

    ``vms``: the instances as the workload will record them (``volume_count`` each). The quotas are
    checked here early and again by ``on_workload_insert`` in the insert's transaction.
    """
    on_workload_insert(ctx.project, vms)
    return _schedule(
        ctx, ctx.project, body.get("jobschedule") or {"enabled": False}, body.get("metadata") or {}
    )


def on_workload_update(
    ctx: RequestContext,
    project_id: str,
    jobschedule_now: dict[str, Any] | None,
    metadata_now: dict[str, Any] | None,
    body: dict[str, Any],
) -> dict[str, Any] | None:
    """The jobschedule to store after a workload update, or None when neither it nor the policy changes.

    A workload that takes another policy (``metadata.policy_id``) drops the schedule fields the former
    one (or the workload itself) decided, so that the new policy's apply; one that leaves its policy keeps
    them as its own.
    """
    metadata = body.get("metadata", metadata_now) or {}
    policy_now, policy_next = (metadata_now or {}).get("policy_id"), metadata.get("policy_id")
    if "jobschedule" not in body and policy_next == policy_now:
        return None
    base = dict(jobschedule_now or {})
    if policy_next and policy_next != policy_now:
        base = {k: v for k, v in base.items() if k not in wp.POLICY_FIELDS}
    return on_schedule_change(ctx, project_id, {**base, **body.get("jobschedule", {})}, metadata)


def on_schedule_change(
    ctx: RequestContext, project_id: str, merged: dict[str, Any], metadata: dict[str, Any]
) -> dict[str, Any]:
    """The jobschedule to store after an update (``merged``: the stored one updated with the request's)."""
    return _schedule(ctx, project_id, merged, metadata)


def on_workload_insert(project_id: str, vms: list[dict[str, Any]], s: Session | None = None) -> None:
    """403 when one more workload protecting ``vms`` exceeds the project's quotas. With ``s``: the check
    under the project's quota lock, in the transaction that inserts the workload (see ``quotas.check_all``).
    """
    quotas.check_all(
        project_id,
        {"workloads": 1, "vms": len(vms), "volumes": sum(int(v.get("volume_count", 0)) for v in vms)},
        s,
    )


def on_instances_change(
    project_id: str, workload_id: str, vms: list[dict[str, Any]], s: Session | None = None
) -> None:
    """403 when replacing a workload's instances by ``vms`` adds more VMs or volumes than allowed (with
    ``s``: under the project's quota lock, in the transaction that replaces them)."""
    if s is not None:
        policy_api.quotas_locked(s, project_id)  # before the workload's usage is read
    vm_count, volume_count = policy_api.workload_usage(workload_id, s)
    quotas.check_all(
        project_id,
        {
            "vms": len(vms) - vm_count,
            "volumes": sum(int(v.get("volume_count", 0)) for v in vms) - volume_count,
        },
        s,
    )


def on_snapshot(project_id: str, s: Session | None = None) -> None:
    """403 when the project may not hold one more snapshot, or already holds its allowed storage (with
    ``s``: under the project's quota lock, in the transaction that queues the snapshot)."""
    quotas.check_all(project_id, {"snapshots": 1, "storage": 0}, s)
