"""Snapshot mount (Trilio's file recovery through a recovery VM): a snapshot's disks attached read-only to a
running VM of the project, as extra disks the user mounts and reads inside the guest.

The API mounts synchronously: the snapshot must be available in the caller's project, the recovery VM
visible to the caller in Nova (their token) and ACTIVE, and the snapshot not mounted already (one live
mount per snapshot, enforced by the database). The row is created ``mounting``; datamover-api finds the
VM's compute host and its agent attaches each disk (the vault read over NBD, identified in the guest by
its serial); the row becomes ``mounted`` with each disk's device, or ``error`` with the agent's message.
The recovery VM may be one of the snapshot's own VMs.

While mounted, a snapshot cannot be deleted, nor its workload, and retention keeps it. workloadmgr-cron
(``sweep``) asks the agents about every live mount: it records the last disk read, dismounts mounts idle
for ``[file_recovery] mount_idle_timeout`` seconds, mounts again what an agent lost (a restarted agent),
and settles mounts left half-way by a stopped process. Several cron processes may sweep at once: every
step that acts on a mount first wins a conditional status change (t4o.db.mount_api).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from keystoneauth1 import exceptions as ks_exc
from oslo_config import cfg

from t4o.common import errors, policy
from t4o.common.config import CONF
from t4o.common.context import RequestContext
from t4o.common.log import get_logger
from t4o.datamover.client import DatamoverClient, TransferFailed
from t4o.db import api as db
from t4o.db import mount_api, states
from t4o.db.models import Snapshot, SnapshotMount, new_id, utcnow
from t4o.openstack.cloud import Cloud, get_cloud
from t4o.workloads import encryption, targets
from t4o.workloads.flows import config as flows_config

LOG = get_logger(__name__)

# What a call to datamover-api raises when it fails: the agent's or the API's answer, or no answer.
DATAMOVER_ERRORS = (TransferFailed, ks_exc.ClientException)
# A mount is attached within seconds; one still mounting or dismounting after this was left half-way.
STUCK_AFTER = 600.0
# A hot-plugged disk needs a running domain: a SHUTOFF VM would lose it at its next start.
MOUNTABLE_VM_STATUS = "ACTIVE"
SERIAL_MAX = 20  # virtio-blk serials are 20 bytes


class Datamover(Protocol):
    """The calls of t4o.datamover.client.DatamoverClient that mounts use."""

    def mount(self, mount_id: str, server_id: str, spec: dict[str, Any]) -> dict[str, Any]: ...

    def mount_status(self, host: str, mount_id: str) -> dict[str, Any] | None: ...

    def dismount(self, host: str, mount_id: str) -> dict[str, Any] | None: ...


def datamover_client(conf: cfg.ConfigOpts = CONF) -> Datamover:
    flows_config.ensure_registered(conf)  # [datamover_client] and [backup_target]
    return DatamoverClient(conf)


def snapshot_disks(snap: Snapshot) -> list[dict[str, Any]]:
    """Every disk of every VM the snapshot holds in the vault: vm_id, disk (vda), ref."""
    return [
        {"vm_id": vm.vm_id, "disk": str(d.get("target") or f"disk{i}"), "ref": str(d["ref"])}
        for vm in snap.vms
        for i, d in enumerate(vm.disks or [])
        if d.get("ref")
    ]


def with_serials(disks: list[dict[str, Any]], mount_id: str) -> list[dict[str, Any]]:
    """Each disk with its serial ``<disk>-<mount id prefix>`` (``-N`` when a name repeats, as two VMs'
    vda do): what the guest shows as /dev/disk/by-id/virtio-<serial>."""
    out, seen = [], 0
    suffix = mount_id.replace("-", "")[:8]
    names: set[str] = set()
    for d in disks:
        name = re.sub(r"[^A-Za-z0-9]", "", d["disk"]) or "disk"
        tail = f"-{suffix}"
        serial = f"{name[: SERIAL_MAX - len(tail)]}{tail}"
        if serial in names:
            seen += 1
            tail = f"-{suffix}-{seen}"
            serial = f"{name[: SERIAL_MAX - len(tail)]}{tail}"
        names.add(serial)
        out.append({**d, "serial": serial, "device": None})
    return out


def _with_devices(disks: list[dict[str, Any]], agent_disks: Any) -> list[dict[str, Any]]:
    by_serial = {str(d.get("serial")): d for d in agent_disks or [] if isinstance(d, dict)}
    return [{**d, "device": (by_serial.get(d["serial"]) or {}).get("device")} for d in disks]


def _spec(
    snapshot_id: str, disks: list[dict[str, Any]], vault: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "vault": vault or targets.spec_for_snapshot(snapshot_id),
        "disks": [{"ref": d["ref"], "serial": d["serial"]} for d in disks],
    }


def parse_time(value: Any) -> dt.datetime | None:
    """An agent's ISO 8601 time as the database keeps times (naive UTC); None when absent or unreadable."""
    if not value:
        return None
    try:
        when = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.astimezone(dt.UTC).replace(tzinfo=None) if when.tzinfo else when


def _naive_utc(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return utcnow()
    return now.astimezone(dt.UTC).replace(tzinfo=None) if now.tzinfo else now


def _begin_dismount(row: SnapshotMount, reason: str) -> bool:
    """mounted -> dismounting with why; False when the user or another cron process came first."""
    return mount_api.transition(row.id, [mount_api.MOUNTED], mount_api.DISMOUNTING, dismount_reason=reason)


@dataclass
class SweepReport:
    """What one sweep did, by mount id."""

    used: list[str] = field(default_factory=list)  # a newer disk read recorded
    expired: list[str] = field(default_factory=list)  # dismounted after the idle timeout
    remounted: list[str] = field(default_factory=list)  # the agent had lost it; mounted again
    failed: list[str] = field(default_factory=list)  # ended in error
    settled: list[str] = field(default_factory=list)  # left half-way by a stopped process, now ended


class SnapshotMounts:
    """The rules of snapshot mounts; the cloud and the datamover client are injectable."""

    def __init__(
        self,
        cloud: Cloud | None = None,
        datamover: Callable[[], Datamover] | None = None,
        conf: cfg.ConfigOpts = CONF,
    ) -> None:
        self._cloud = cloud
        self._datamover = datamover
        self.conf = conf

    @property
    def cloud(self) -> Cloud:
        if self._cloud is None:
            self._cloud = get_cloud(self.conf)
        return self._cloud

    def datamover(self) -> Datamover:
        return self._datamover() if self._datamover is not None else datamover_client(self.conf)

    @property
    def idle_timeout(self) -> int:
        return int(self.conf.file_recovery.mount_idle_timeout)

    def expires_at(self, mount: SnapshotMount) -> dt.datetime | None:
        """When the cron dismounts the mount unless a disk is read before."""
        since = [t for t in (mount.last_used_at, mount.mounted_at) if t is not None]
        if mount.status != mount_api.MOUNTED or not since:
            return None
        return max(since) + dt.timedelta(seconds=self.idle_timeout)

    # ------------------------------------------------------------ API
    def mount(self, ctx: RequestContext, snapshot_id: str, mount_vm_id: str) -> tuple[SnapshotMount, str]:
        """Attach the snapshot's disks to the recovery VM; (the mounted row, the snapshot's name)."""
        policy.authorize(ctx, "snapshot:mount")
        # Also for an admin, the snapshot and the recovery VM are of the project in the URL: a snapshot's
        # data is never attached to another project's VM.
        scope = ctx.project_id
        snap = db.snapshot_get(snapshot_id, scope)  # another project's snapshot: 404 before any other check
        if snap.status != states.AVAILABLE:
            raise errors.Conflict(
                f"Snapshot {snap.id} is {snap.status}: only an available snapshot can be mounted."
            )
        disks = snapshot_disks(snap)
        if not disks:
            raise errors.Conflict(f"Snapshot {snap.id} holds no disk in the backup target to mount.")
        self._check_recovery_vm(ctx, mount_vm_id)
        # An encrypted workload's agent reads its Barbican secret through the owner's trust.
        workload = db.workload_get(snap.workload_id, None)
        vault = encryption.vault_spec(workload, ctx) if workload.encryption else None
        mount_id = new_id()
        disks = with_serials(disks, mount_id)
        row = mount_api.create(
            snap.id,
            scope,
            {"id": mount_id, "user_id": ctx.user_id or "", "mount_vm_id": mount_vm_id, "disks": disks},
        )
        try:
            current = db.snapshot_get(snap.id, None)
        except errors.NotFound:
            current = None
        if current is None or current.status != states.AVAILABLE:  # a delete started meanwhile: it wins
            mount_api.finish(row.id, mount_api.ERROR, "the snapshot is being deleted")
            raise errors.Conflict(f"Snapshot {snap.id} is being deleted; it cannot be mounted.")
        try:
            agent = self.datamover().mount(row.id, mount_vm_id, _spec(snap.id, disks, vault))
        except DATAMOVER_ERRORS as exc:
            message = f"Snapshot {snap.id} could not be mounted on VM {mount_vm_id}: {exc}"
            LOG.warning("Mount %s: %s", row.id, message)
            mount_api.finish(row.id, mount_api.ERROR, "the mount failed", error_msg=message)
            raise errors.Conflict(message) from exc
        host = str(agent.get("host") or "")
        if not mount_api.set_mounted(row.id, host, _with_devices(disks, agent.get("disks"))):
            # Settled meanwhile as stuck by a cron process (a very slow attach): undo the attach.
            self._detach_quietly(host, row.id)
            raise errors.Conflict(f"Mount {row.id} of snapshot {snap.id} was ended while it attached.")
        LOG.info(
            "Snapshot %s mounted on VM %s (host %s) by user %s of project %s: mount %s, %d disk(s)",
            snap.id, mount_vm_id, host, ctx.user_id, snap.project_id, row.id, len(disks),
        )  # fmt: skip
        return mount_api.get(row.id), snap.name

    def _check_recovery_vm(self, ctx: RequestContext, server_id: str) -> None:
        server = self.cloud.find_servers(ctx, [server_id]).get(server_id)
        if server is None:
            raise errors.NotFound(f"Recovery VM {server_id} not found in project {ctx.project_id}.")
        if server.status != MOUNTABLE_VM_STATUS:
            raise errors.Conflict(
                f"Recovery VM {server_id} is {server.status}: a snapshot is attached to a running VM "
                f"(ACTIVE) only; a shut-off VM would lose the disks at its next start."
            )

    def dismount(self, ctx: RequestContext, snapshot_id: str) -> tuple[SnapshotMount, str]:
        """Detach the snapshot's disks from its recovery VM; (the dismounted row, the snapshot's name)."""
        policy.authorize(ctx, "snapshot:dismount")
        snap = db.snapshot_get(snapshot_id, None if ctx.is_admin else ctx.project_id)
        row = mount_api.live_for_snapshot(snap.id)
        if row is None:
            raise errors.Conflict(f"Snapshot {snap.id} is not mounted.")
        if row.status != mount_api.MOUNTED:
            raise errors.Conflict(
                f"Snapshot {snap.id} is {row.status} (mount {row.id}); try again when that ends."
            )
        reason = f"dismounted by user {ctx.user_id or 'unknown'}"
        if not _begin_dismount(row, reason):
            raise errors.Conflict(f"Mount {row.id} of snapshot {snap.id} changed meanwhile; try again.")
        self._release(row, reason)
        LOG.info("Snapshot %s dismounted from VM %s by user %s", snap.id, row.mount_vm_id, ctx.user_id)
        return mount_api.get(row.id), snap.name

    def list_mounted(self, ctx: RequestContext) -> list[tuple[SnapshotMount, str]]:
        """The live mounts of the project (an admin: of the project in the URL)."""
        policy.authorize(ctx, "snapshot:mounted_list")
        return mount_api.list_live(ctx.project_id)

    def refuse_if_mounted(
        self, ctx: RequestContext, snapshot_id: str | None = None, workload_id: str | None = None
    ) -> None:
        """Conflict when the snapshot (or a snapshot of the workload) of the caller's project is mounted;
        another project's is left to the delete's own 404."""
        scope = None if ctx.is_admin else ctx.project_id
        mounts = mount_api.live_mounts([snapshot_id] if snapshot_id else [], workload_id, scope)
        if not mounts:
            return
        named = "; ".join(
            f"snapshot {m.snapshot_id} is mounted on VM {m.mount_vm_id} (mount {m.id})" for m in mounts
        )
        what = f"Workload {workload_id}" if workload_id else f"Snapshot {snapshot_id}"
        raise errors.Conflict(f"{what} cannot be deleted: {named}. Dismount it first.")

    # ------------------------------------------------------------ the agent
    def _release(self, row: SnapshotMount, reason: str) -> None:
        """A ``dismounting`` mount detached on its agent, then ``dismounted``. When the agent fails, the
        mount is ``mounted`` again with why (its disks may still be attached) and Conflict is raised."""
        try:
            gone = self.datamover().dismount(row.host, row.id) if row.host else None
        except DATAMOVER_ERRORS as exc:
            message = f"Dismount of snapshot {row.snapshot_id} from VM {row.mount_vm_id} failed: {exc}"
            LOG.warning("Mount %s: %s", row.id, message)
            mount_api.transition(
                row.id, [mount_api.DISMOUNTING], mount_api.MOUNTED, error_msg=message, dismount_reason=None
            )
            raise errors.Conflict(message) from exc
        if gone is None:
            LOG.info("Mount %s was already gone from host %s", row.id, row.host)
        mount_api.finish(row.id, mount_api.DISMOUNTED, reason, from_statuses=[mount_api.DISMOUNTING])

    def _detach_quietly(self, host: str | None, mount_id: str) -> None:
        if not host:
            return
        try:
            self.datamover().dismount(host, mount_id)
        except DATAMOVER_ERRORS as exc:
            LOG.warning("Mount %s: could not detach it from host %s: %s", mount_id, host, exc)

    # ------------------------------------------------------------ workloadmgr-cron
    def sweep(self, now: dt.datetime | None = None) -> SweepReport:
        """One look at every live mount: last reads recorded, idle ones dismounted, lost ones mounted again,
        half-done ones settled."""
        report = SweepReport()
        at = _naive_utc(now)
        live = [m for m, _name in mount_api.list_live(None)]
        stuck = mount_api.stuck(STUCK_AFTER, at)
        if not live and not stuck:
            return report
        try:
            dm = self.datamover()
        except Exception as exc:  # configuration: say it each sweep, the next one tries again
            LOG.warning("Mounts not checked: no datamover client: %s", exc)
            return report
        for row in live:
            if row.status != mount_api.MOUNTED:
                continue
            try:
                self._check(dm, row, at, report)
            except DATAMOVER_ERRORS as exc:
                LOG.warning("Mount %s on host %s not checked this time: %s", row.id, row.host, exc)
        for row in stuck:
            self._settle(dm, row, report)
        return report

    def _check(self, dm: Datamover, row: SnapshotMount, now: dt.datetime, report: SweepReport) -> None:
        agent = dm.mount_status(row.host or "", row.id) if row.host else None
        if agent is None or agent.get("status") != mount_api.MOUNTED:
            self._remount(dm, row, report)
            return
        used = row.last_used_at
        last_read = parse_time(agent.get("last_read_at"))
        if last_read is not None and (used is None or last_read > used):
            if mount_api.touch(row.id, last_read):
                report.used.append(row.id)
            used = last_read
        since = max([t for t in (used, row.mounted_at) if t is not None] or [row.created_at])
        idle = (now - since).total_seconds()
        if idle < self.idle_timeout:
            return
        reason = f"idle for {int(idle)} s"
        if not _begin_dismount(row, reason):
            return  # the user, or another cron process, acts on it
        try:
            self._release(row, reason)
        except errors.Conflict:
            return  # mounted again with the error; the next sweep tries again
        LOG.info("Snapshot %s dismounted from VM %s: %s", row.snapshot_id, row.mount_vm_id, reason)
        report.expired.append(row.id)

    def _remount(self, dm: Datamover, row: SnapshotMount, report: SweepReport) -> None:
        """The agent no longer has the mount (restarted, or the VM moved): attach the same disks again."""
        if not mount_api.transition(row.id, [mount_api.MOUNTED], mount_api.MOUNTING):
            return
        try:
            agent = dm.mount(row.id, row.mount_vm_id, _spec(row.snapshot_id, list(row.disks)))
        except DATAMOVER_ERRORS as exc:
            message = (
                f"The datamover agent on host {row.host} no longer had this mount and mounting it again "
                f"on VM {row.mount_vm_id} failed: {exc}"
            )
            LOG.warning("Mount %s of snapshot %s: %s", row.id, row.snapshot_id, message)
            mount_api.finish(
                row.id, mount_api.ERROR, "lost by its agent", [mount_api.MOUNTING], error_msg=message
            )
            report.failed.append(row.id)
            return
        host = str(agent.get("host") or "")
        mount_api.set_mounted(
            row.id, host, _with_devices(list(row.disks), agent.get("disks")), row.mounted_at
        )
        LOG.info("Mount %s of snapshot %s was lost by its agent: mounted again on host %s", row.id,
                 row.snapshot_id, host)  # fmt: skip
        report.remounted.append(row.id)

    def _settle(self, dm: Datamover, row: SnapshotMount, report: SweepReport) -> None:
        """A mount a stopped process left ``mounting`` ends in error (what its agent attached is detached
        when its host is known); one left ``dismounting`` is detached and ends dismounted."""
        if row.status == mount_api.MOUNTING:
            message = f"The mount did not complete within {STUCK_AFTER:.0f} s (its process stopped?)."
            if mount_api.finish(
                row.id, mount_api.ERROR, "the mount did not complete", [mount_api.MOUNTING], message
            ):
                self._detach_quietly(row.host, row.id)
                LOG.warning("Mount %s of snapshot %s: %s", row.id, row.snapshot_id, message)
                report.settled.append(row.id)
            return
        try:
            if row.host:
                dm.dismount(row.host, row.id)
        except DATAMOVER_ERRORS as exc:
            LOG.warning("Mount %s left dismounting: the agent failed again: %s", row.id, exc)
            return
        reason = row.dismount_reason or "dismount completed by workloadmgr-cron after its process stopped"
        if mount_api.finish(row.id, mount_api.DISMOUNTED, reason, [mount_api.DISMOUNTING]):
            LOG.info("Mount %s of snapshot %s, left dismounting, is dismounted", row.id, row.snapshot_id)
            report.settled.append(row.id)
