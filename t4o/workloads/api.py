"""The control plane's rules, called by the REST API: ownership, instance checks, job dispatch.

The REST layer validates shapes; this layer decides what is allowed and records it atomically.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any

import oslo_messaging as messaging
from oslo_config import cfg

from t4o.common import errors, policy
from t4o.common.context import RequestContext
from t4o.common.log import get_logger
from t4o.db import api as db
from t4o.db import states
from t4o.db.models import Restore, Snapshot, Workload
from t4o.openstack.cloud import Cloud, get_cloud
from t4o.policies import global_scheduler as scheduler_switch
from t4o.policies import hooks, setting_secrets, workload_policies
from t4o.workloads import backup_targets, encryption, rpcapi
from t4o.workloads.flows import guest_hooks, selection
from t4o.workloads.flows import topology as restore_networks
from t4o.workloads.flows.restore_types import WITHOUT_VMS

LOG = get_logger(__name__)


def _require_live_worker() -> None:
    """409 up front when no live, enabled workloads worker could run a new job (the scheduler would
    otherwise queue it and fail it at once)."""
    live, _dead = db.services_alive(cfg.CONF.workloads_topic, cfg.CONF.service_down_time)
    if not live:
        raise errors.Conflict(
            "No live, enabled workloads worker can run the snapshot now; ask the cloud administrator to "
            "enable or start one, then try again."
        )


def _delete_on_target(
    ctx: RequestContext, workload_id: str, snapshot_ids: list[str], whole_workload: bool
) -> str | None:
    """Have a worker remove the data from the backup target; None when done, else why not."""
    try:
        answer = rpcapi.delete_from_target(ctx, workload_id, snapshot_ids, whole_workload)
    except messaging.MessagingException as exc:
        LOG.warning("No workloads worker removed workload %s's data from the target: %s", workload_id, exc)
        return f"No workloads worker could delete from the backup target ({type(exc).__name__}); try again."
    if "deleted" in answer:
        LOG.info("Removed from the backup target: %s", ", ".join(answer["deleted"]) or "nothing")
        return None
    return str(answer.get("refused") or answer.get("error"))


class WorkloadAPI:
    def __init__(self, cloud: Cloud | None = None) -> None:
        self._cloud = cloud

    @property
    def cloud(self) -> Cloud:
        if self._cloud is None:
            self._cloud = get_cloud()
        return self._cloud

    # ------------------------------------------------------------ helpers
    @staticmethod
    def _scope(ctx: RequestContext, all_projects: bool, rule: str) -> str | None:
        """The project a query is limited to: None (every project) only for an admin who asks for it."""
        if all_projects:
            policy.authorize(ctx, rule)
            return None
        return ctx.project_id

    def _check_instances(self, ctx: RequestContext, vm_ids: list[str], workload_id: str | None) -> list[dict]:
        if len(set(vm_ids)) != len(vm_ids):
            raise errors.BadRequest("An instance is listed more than once.")
        found = self.cloud.find_servers(ctx, vm_ids)
        missing = [vid for vid, srv in found.items() if srv is None]
        if missing:
            raise errors.BadRequest(
                f"Instance(s) not found in project {ctx.project_id}: {', '.join(missing)}."
            )
        owners = db.vm_owners(vm_ids)
        taken = [vid for vid, wid in owners.items() if wid != workload_id]
        if taken:
            raise errors.BadRequest(f"Instance(s) already protected by another workload: {', '.join(taken)}.")
        return [
            {"vm_id": vid, "vm_name": srv.name, "volume_count": len(srv.volume_ids)}
            for vid in vm_ids
            if (srv := found[vid]) is not None
        ]

    @staticmethod
    def _dispatch(ctx: RequestContext, kind: str, job_id: str) -> None:
        try:
            rpcapi.schedule_job(ctx, kind, job_id)
        except Exception as exc:
            # The job row exists and says what happened; the caller sees it in the job's error_msg.
            LOG.exception("Could not send %s %s to the scheduler", kind, job_id)
            db.job_finish(kind, job_id, "error", error_msg=f"Could not reach the scheduler: {exc}")

    # ------------------------------------------------------------ workload types
    def workload_types(self, ctx: RequestContext, page: db.Page | None = None) -> list[Any]:
        policy.authorize(ctx, "workload_type:get")
        return db.workload_type_list(page)

    def workload_type(self, ctx: RequestContext, type_id: str) -> Any:
        policy.authorize(ctx, "workload_type:get")
        return db.workload_type_get(type_id)

    # ------------------------------------------------------------ workloads
    def list_workloads(
        self,
        ctx: RequestContext,
        all_workloads: bool,
        page: db.Page | None = None,
        last_snapshot: bool = False,
    ) -> list[dict[str, Any]]:
        """Rows of a listing; ``last_snapshot`` adds each one's newest available snapshot time."""
        policy.authorize(ctx, "workload:get_all")
        scope = self._scope(ctx, all_workloads, "workload:get_all_projects")
        return db.workload_list_rows(scope, page, raw_json=True, last_snapshot=last_snapshot)

    def get_workload(self, ctx: RequestContext, workload_id: str) -> Workload:
        policy.authorize(ctx, "workload:get")
        return db.workload_get(workload_id, None if ctx.is_admin else ctx.project_id)

    def create_workload(self, ctx: RequestContext, body: dict[str, Any]) -> Workload:
        policy.authorize(ctx, "workload:create")
        type_id = body.get("workload_type_id") or "f82ce76f-17fe-438b-aa37-7a023058e50d"
        try:
            db.workload_type_get(type_id)
        except errors.NotFound as exc:
            raise errors.BadRequest(f"Workload type {type_id} does not exist.") from exc
        vm_ids = [i["instance-id"] for i in body.get("instances", [])]
        vms = self._check_instances(ctx, vm_ids, None)
        values = {
            "project_id": ctx.project_id,
            "user_id": ctx.user_id or "",
            "name": body.get("name") or "",
            "description": body.get("description") or "",
            "workload_type_id": type_id,
            "source_platform": body.get("source_platform") or "openstack",
            "status": "available",
            "jobschedule": hooks.on_workload_create(ctx, body, vms),
            "metadata_": _checked_metadata(body.get("metadata") or {}),
            "encryption": bool(body.get("encryption", False)),
            "secret_uuid": body.get("secret_uuid"),
            "backup_target_id": backup_targets.choose_for_new_workload(
                body.get("backup_target_id"), workload_policies.target_of(_policy_id(body))
            ),
        }
        if values["encryption"]:
            encryption.check_secret(body.get("secret_uuid"), ctx)  # 400 naming a secret the caller cannot use
        wl = db.workload_create(values, vms, lambda s: hooks.on_workload_insert(ctx.project, vms, s))
        LOG.info("Workload %s created with %d instance(s)", wl.id, len(vms))
        return wl

    def update_workload(self, ctx: RequestContext, workload_id: str, body: dict[str, Any]) -> Workload:
        policy.authorize(ctx, "workload:update")
        scope = None if ctx.is_admin else ctx.project_id
        current = db.workload_get(workload_id, scope)
        backup_targets.refuse_move(current.backup_target_id, body.get("backup_target_id"))
        values: dict[str, Any] = {}
        for key in ("name", "description"):
            if key in body:
                values[key] = body[key]
        schedule = hooks.on_workload_update(
            ctx, current.project_id, current.jobschedule, current.metadata_, body
        )
        if "metadata" in body and _policy_id(body) != (current.metadata_ or {}).get("policy_id"):
            by_policy = workload_policies.target_of(_policy_id(body))
            backup_targets.refuse_policy_move(current.backup_target_id, by_policy)
        if schedule is not None:
            values["jobschedule"] = schedule
        if "metadata" in body:
            values["metadata_"] = _checked_metadata(body["metadata"])
        if body.get("secret_uuid") and body["secret_uuid"] != current.secret_uuid:
            # Rotation: the key on the target is re-wrapped with the new secret; no data is rewritten.
            if current.status != states.AVAILABLE:
                raise errors.Conflict(
                    f"Workload {workload_id} is {current.status}: change its secret when idle."
                )
            owner_ctx = ctx if current.project_id == ctx.project_id else _as_project(ctx, current.project_id)
            encryption.rotate(current, body["secret_uuid"], owner_ctx)
            values["secret_uuid"] = body["secret_uuid"]
        vms, guard = None, None
        if "instances" in body:
            vm_ids = [i["instance-id"] for i in body["instances"]]
            owner_ctx = ctx if current.project_id == ctx.project_id else _as_project(ctx, current.project_id)
            vms = self._check_instances(owner_ctx, vm_ids, workload_id)
            hooks.on_instances_change(current.project_id, workload_id, vms)
            guard = functools.partial(hooks.on_instances_change, current.project_id, workload_id, vms)
        return db.workload_update(workload_id, scope, values, vms, guard)

    def delete_workload(self, ctx: RequestContext, workload_id: str, database_only: bool) -> None:
        """Delete a workload no job holds.

        ``database_only`` soft-deletes the workload and its snapshots in the database and frees its
        instances: the backup data stays on the target (for a later import). A full delete first has a
        worker remove every snapshot and document of the workload from the target (the workload shows
        ``deleting`` meanwhile); if that is refused (object lock) or fails, the workload is back to its
        status with the reason in ``error_msg`` and the call answers 409.
        """
        policy.authorize(ctx, "workload:delete")
        scope = None if ctx.is_admin else ctx.project_id
        if not database_only:
            wl, before = db.workload_mark_deleting(workload_id, scope)
            snapshot_ids = [x.id for x in db.snapshot_list(scope, workload_id=workload_id)]
            problem = _delete_on_target(ctx, wl.id, snapshot_ids, whole_workload=True)
            if problem:
                db.workload_delete_failed(wl.id, before, problem)
                raise errors.Conflict(problem)
        wl = db.workload_delete(workload_id, scope)
        LOG.info("Workload %s deleted (database_only=%s)", wl.id, database_only)

    def snapshot_workload(
        self, ctx: RequestContext, workload_id: str, body: dict[str, Any], full: bool
    ) -> Snapshot:
        policy.authorize(ctx, "workload:snapshot")
        scope = None if ctx.is_admin else ctx.project_id
        # The workload's project pays for the snapshot, also when an admin takes it.
        owner = db.workload_get(workload_id, scope).project_id
        hooks.on_snapshot(owner)
        _require_live_worker()
        snap = db.snapshot_create(
            workload_id,
            scope,
            {
                "user_id": ctx.user_id or "",
                "name": body.get("name") or "",
                "description": body.get("description") or "",
                "snapshot_type": "full" if full else "incremental",
                "progress_msg": "Queued",
            },
            lambda s: hooks.on_snapshot(owner, s),
        )
        LOG.info("Snapshot %s of workload %s queued (full=%s)", snap.id, workload_id, full)
        self._dispatch(ctx, "snapshot", snap.id)
        return db.snapshot_get(snap.id, None)

    def set_schedule(self, ctx: RequestContext, workload_id: str, enabled: bool) -> Workload:
        policy.authorize(ctx, "workload:resume" if enabled else "workload:pause")
        return db.workload_set_schedule_enabled(
            workload_id, None if ctx.is_admin else ctx.project_id, enabled
        )

    def unlock_workload(self, ctx: RequestContext, workload_id: str) -> Workload:
        policy.authorize(ctx, "workload:unlock")
        return db.workload_unlock(workload_id, None if ctx.is_admin else ctx.project_id)

    def reset_workload(self, ctx: RequestContext, workload_id: str) -> Workload:
        policy.authorize(ctx, "workload:reset")
        wl, count = db.workload_reset(
            workload_id, None if ctx.is_admin else ctx.project_id, f"Reset by user {ctx.user_id}."
        )
        LOG.info("Workload %s reset; %d unfinished job(s) marked error", workload_id, count)
        return wl

    def storage_usage(self, workload_ids: list[str]) -> dict[str, Any]:
        return db.storage_usage(workload_ids)

    # ------------------------------------------------------------ snapshots
    def list_snapshots(
        self, ctx: RequestContext, all_projects: bool, page: db.Page | None = None, **filters: Any
    ) -> list[Snapshot]:
        policy.authorize(ctx, "snapshot:get")
        scope = self._scope(ctx, all_projects, "snapshot:get_all_projects")
        return db.snapshot_list(scope, page=page, **filters)

    def get_snapshot(self, ctx: RequestContext, snapshot_id: str) -> Snapshot:
        policy.authorize(ctx, "snapshot:get")
        return db.snapshot_get(snapshot_id, None if ctx.is_admin else ctx.project_id)

    def delete_snapshot(self, ctx: RequestContext, snapshot_id: str) -> None:
        """Remove the snapshot's manifests and document from the target (on a worker; the row shows
        ``deleting`` meanwhile), then its row. A refusal (object lock) or failure leaves the row with the
        reason in ``error_msg`` and answers 409; chunks go at the vault's next gc."""
        policy.authorize(ctx, "snapshot:delete")
        scope = None if ctx.is_admin else ctx.project_id
        snap, before = db.snapshot_mark_deleting(snapshot_id, scope)
        problem = _delete_on_target(ctx, snap.workload_id, [snap.id], whole_workload=False)
        if problem:
            db.snapshot_delete_failed(snap.id, before, problem)
            raise errors.Conflict(problem)
        db.snapshot_delete(snap.id, scope)

    def cancel_snapshot(self, ctx: RequestContext, snapshot_id: str) -> Snapshot:
        policy.authorize(ctx, "snapshot:cancel")
        return db.job_cancel("snapshot", snapshot_id, None if ctx.is_admin else ctx.project_id)

    # ------------------------------------------------------------ restores
    def create_restore(self, ctx: RequestContext, snapshot_id: str, body: dict[str, Any]) -> Restore:
        policy.authorize(ctx, "restore:create")
        scope = None if ctx.is_admin else ctx.project_id
        snap = db.snapshot_get(snapshot_id, scope)  # another project's snapshot is 404 before any other check
        options = body.get("options") or {}
        listed = (options.get("openstack") or {}).get("instances")
        restore_type = options.get("restore_type") or ("selective" if listed else "oneclick")
        if restore_type == "selective" and not (options.get("openstack") or {}).get("instances"):
            raise errors.BadRequest("A selective restore needs options.openstack.instances.")
        if restore_type not in ("inplace", *WITHOUT_VMS):
            # What the options name must be in the snapshot, and in the cloud: 400 naming the field.
            targets, where = selection.check(options, list(snap.vms))
            selection.refuse_missing(self.cloud.missing_targets(ctx, targets), where)
        # A selective restore without restore_topology needs a target for each network of its VMs.
        restore_networks.check_request(restore_type, options, list(snap.vms))
        restore = db.restore_create(
            snapshot_id,
            scope,
            {
                "user_id": ctx.user_id or "",
                "name": body.get("name") or "",
                "description": body.get("description") or "",
                "restore_type": restore_type,
                "restore_options": options,
                "progress_msg": "Queued",
            },
        )
        LOG.info("Restore %s (%s) of snapshot %s queued", restore.id, restore_type, snapshot_id)
        self._dispatch(ctx, "restore", restore.id)
        return db.restore_get(restore.id, None)

    def list_restores(
        self, ctx: RequestContext, snapshot_id: str | None, page: db.Page | None = None
    ) -> list[Restore]:
        policy.authorize(ctx, "restore:get")
        return db.restore_list(ctx.project_id, snapshot_id, page)

    def get_restore(self, ctx: RequestContext, restore_id: str) -> Restore:
        policy.authorize(ctx, "restore:get")
        return db.restore_get(restore_id, None if ctx.is_admin else ctx.project_id)

    def delete_restore(self, ctx: RequestContext, restore_id: str) -> None:
        policy.authorize(ctx, "restore:delete")
        db.restore_delete(restore_id, None if ctx.is_admin else ctx.project_id)

    def cancel_restore(self, ctx: RequestContext, restore_id: str) -> Restore:
        policy.authorize(ctx, "restore:cancel")
        return db.job_cancel("restore", restore_id, None if ctx.is_admin else ctx.project_id)

    # ------------------------------------------------------------ settings
    def list_settings(self, ctx: RequestContext, page: db.Page | None = None) -> list[Any]:
        policy.authorize(ctx, "setting:get")
        return db.setting_list(ctx.project, page)

    def get_setting(self, ctx: RequestContext, name: str) -> Any:
        policy.authorize(ctx, "setting:get")
        return db.setting_get(ctx.project, name)

    def set_settings(self, ctx: RequestContext, items: list[dict[str, Any]], create_only: bool) -> list[Any]:
        policy.authorize(ctx, "setting:set")
        names = [i["name"] for i in items]
        if len(set(names)) != len(names):
            raise errors.BadRequest("A setting name is given more than once.")
        items = [dict(i) for i in items]
        setting_secrets.seal_items(cfg.CONF, items, self._stored_secrets(ctx.project, items))
        return db.setting_upsert(ctx.project, ctx.user_id or "", items, create_only)

    @staticmethod
    def _stored_secrets(project_id: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        """The stored settings among ``items`` that are or may be secret (their value may be masked)."""
        found: dict[str, Any] = {}
        for item in items:
            if item.get("value") == setting_secrets.MASK:
                with contextlib.suppress(errors.NotFound):  # a new setting: seal_items says what to fix
                    found[item["name"]] = db.setting_get(project_id, item["name"])
        return found

    def delete_setting(self, ctx: RequestContext, name: str) -> None:
        policy.authorize(ctx, "setting:delete")
        db.setting_delete(ctx.project, name)

    # ------------------------------------------------------------ global job scheduler
    def global_scheduler(self, ctx: RequestContext) -> bool:
        policy.authorize(ctx, "global_job_scheduler:get")
        return scheduler_switch.enabled()

    def set_global_scheduler(self, ctx: RequestContext, enabled: bool) -> bool:
        policy.authorize(ctx, "global_job_scheduler:set")
        scheduler_switch.set_enabled(enabled)
        LOG.info("Global job scheduler %s", "enabled" if enabled else "disabled")
        return enabled


def _as_project(ctx: RequestContext, project_id: str) -> RequestContext:
    """An admin acting on another project's workload: instances are checked against that project."""
    clone = RequestContext.from_dict(ctx.to_dict())
    clone.project_id = project_id
    return clone


def _policy_id(body: dict[str, Any]) -> str | None:
    """The workload policy a create or update request names (``metadata.policy_id``)."""
    policy_id = (body.get("metadata") or {}).get("policy_id")
    return str(policy_id) if policy_id else None


def _checked_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """A workload's metadata, its guest hook settings checked (400 naming the key)."""
    try:
        guest_hooks.check_metadata(metadata)
    except ValueError as exc:
        raise errors.BadRequest(f"Invalid workload {exc}.") from None
    return metadata
