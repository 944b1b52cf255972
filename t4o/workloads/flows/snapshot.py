"""The snapshot workflow: for each VM, capture its definition, take Cinder snapshots of its detached
volumes, then have the datamover agent on its compute host take a consistent point and move its disks
(and the detached volumes' snapshot files) into the vault (incremental from the previous snapshot's
checkpoint when that chain holds); the snapshot document is written last.

VMs go one by one, or several at once when the workload's type is Parallel (vm_runner). Each VM's
transfer first waits for a deployment-wide transfer slot of its compute host (transfer_slots).

A failure or a cancel deletes the disks this snapshot already stored (the vault then holds no partial
snapshot; chunks go at the next gc), deletes the Cinder snapshots it took, and says which VM and what
failed. If the worker itself dies, the next snapshot of the workload removes what the dead one stored.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from t4o.common.config import CONF
from t4o.common.log import get_logger
from t4o.datamover.client import DatamoverClient, TransferFailed
from t4o.db import api as db
from t4o.db import states
from t4o.openstack.connection import UserCloud, user_cloud
from t4o.openstack.definitions import capture_server
from t4o.vault import Repository, VaultError, open_configured_target, target_spec
from t4o.workloads import documents, encryption, targets
from t4o.workloads.flows import config, detached, guest_hooks, vm_runner
from t4o.workloads.flows.progress import human, transfer_progress
from t4o.workloads.flows.transfer_slots import TransferSlots
from t4o.workloads.flows.vm_runner import Report
from t4o.workloads.workflows import Job, JobCancelled, JobResolved

LOG = get_logger(__name__)


def checkpoint_name(snapshot_id: str) -> str:
    return f"t4o-{snapshot_id}"


def previous_snapshot(workload_id: str, current_id: str) -> Any | None:
    """The newest available snapshot of the workload before this one (the parent of an incremental)."""
    for snap in db.snapshot_list(None, workload_id=workload_id, status=states.AVAILABLE):
        if snap.id != current_id and snap.vms:
            return snap
    return None


def _parent_refs(repo: Repository, prev_vm: Any) -> dict[str, str]:
    """Target -> disk ref of the previous snapshot, for the disks still in the vault."""
    refs = {}
    for disk in prev_vm.disks or []:
        try:
            repo.get_manifest(disk["ref"])
        except VaultError:
            continue
        refs[disk["target"]] = disk["ref"]
    return refs


def open_target(create: bool = True) -> Repository:
    """The vault of the backup target. A snapshot creates it only when ``[backup_target]
    create_if_missing`` says so (see t4o.vault.open_configured_target); a restore never does."""
    return open_configured_target(CONF, create=create)


def vault_spec() -> dict[str, Any]:
    """How the agents open the backup target (they never create it)."""
    return target_spec(CONF)


def snapshot(job: Job) -> dict[str, Any]:
    config.ensure_registered()
    started = time.monotonic()
    snap = job.row()
    workload = db.workload_get(snap.workload_id, None)
    vms = list(workload.vms)
    workers = vm_runner.concurrency(workload.workload_type_id, CONF.workflows.max_parallel_vms, len(vms))
    how = f", {workers} at a time" if workers > 1 else ""
    job.progress(1, f"Snapshot of {len(vms)} VM(s) started{how}")
    repo = targets.open_for_workload(workload, create=True)  # the workload's own backup target
    try:
        # An encrypted workload's key (made at its first snapshot), unlocked with its Barbican secret.
        encryption.unlock(repo, workload, job.context, create=True)
        _discard_crashed(repo, workload.id, snap.id)
        last = previous_snapshot(workload.id, snap.id)
        prev = last if snap.snapshot_type != "full" else None
        run = SnapshotRun(
            job=job,
            snap=snap,
            workload_id=workload.id,
            repo=repo,
            connect=lambda: user_cloud(job.context),
            prev=prev,
            prev_vms={v.vm_id: v for v in prev.vms} if prev is not None else {},
            last_vms={v.vm_id: v for v in last.vms} if last is not None else {},
            progress=vm_runner.VmProgress(job.progress, len(vms)),
            slots=TransferSlots.for_job(job, snap.project_id, CONF),
            workload_metadata=dict(workload.metadata_ or {}),
            vault=encryption.vault_spec(workload, job.context),
        )
        if snap.snapshot_type != "full" and prev is None:
            run.note("no earlier snapshot to build on: took a full snapshot")
        try:
            records = vm_runner.run_each(vms, run.snapshot_vm, workers, run.progress.abort)
            job.progress(98, "Writing the snapshot document")
            kind = _kind(records)
            _write_documents(
                repo, workload, snap, records, run.notes, kind, prev.id if prev is not None else None
            )
        except (JobCancelled, JobResolved):
            _discard(repo, snap.id)
            raise
        except VmFailed as exc:
            _discard(repo, snap.id)
            raise RuntimeError(str(exc)) from exc.__cause__
        except Exception as exc:
            _discard(repo, snap.id)
            raise RuntimeError(f"snapshot: {exc}") from exc
        disks = [d for r in records for d in r["disks"]]
        read = sum(d["read_bytes"] for d in disks)
        stored = sum(d["new_bytes"] for d in disks)
        message = (
            f"Snapshot of {len(records)} VM(s), {len(disks)} disk(s) completed ({kind}{how}): "
            f"read {human(read)}, stored {human(stored)} in {time.monotonic() - started:.1f} s"
        )
        return {
            "size": sum(r["size"] for r in records),
            "uploaded_size": stored,
            "snapshot_type": kind,
            "progress_msg": message,
            "warning_msg": "; ".join(run.notes) or None,
        }
    finally:
        repo.backend.close()  # an S3 client's connections


class VmFailed(Exception):
    """One VM's part of the snapshot failed; the message names the VM and the cause."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Transfer:
    """A datamover transfer of one VM that ended well, with what the agent returned."""

    id: str
    host: str
    started_at: str
    finished_at: str
    result: dict[str, Any]


@dataclass
class SnapshotRun:
    """What every VM's part of one snapshot shares; ``snapshot_vm`` may run in several threads."""

    job: Job
    snap: Any
    workload_id: str
    repo: Repository
    connect: Callable[[], UserCloud]
    prev: Any | None
    prev_vms: dict[str, Any]
    last_vms: dict[str, Any]
    progress: vm_runner.VmProgress
    notes: list[str] = field(default_factory=list)
    slots: TransferSlots | None = None  # deployment-wide transfer limits; None: no limit set
    workload_metadata: dict[str, Any] = field(default_factory=dict)  # guest hooks' settings among them
    vault: dict[str, Any] | None = None  # how agents open the target (None: the workload's, unencrypted)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, text: str) -> None:
        with self._lock:
            self.notes.append(text)

    def snapshot_vm(self, index: int, vm: Any) -> dict[str, Any]:
        label = f"VM {vm.vm_name or vm.vm_id} ({vm.vm_id})"
        try:
            return self._snapshot_vm(index, vm, label)
        except (JobCancelled, JobResolved, vm_runner.Aborted):
            raise
        except TransferFailed as exc:
            raise VmFailed(f"{label}: the data transfer failed: {exc}") from None
        except Exception as exc:
            raise VmFailed(f"{label}: {exc}") from exc

    def _snapshot_vm(self, index: int, vm: Any, label: str) -> dict[str, Any]:
        # A cloud connection per VM: the VMs of a Parallel workload run in threads.
        cloud = self.connect()

        def report(fraction: float, message: str) -> None:
            self.progress.report(index, fraction, f"{label}: {message}")

        report(0.0, "capturing its definition")
        definition = capture_server(cloud, vm.vm_id)
        volumes = self._detached_volumes(cloud, vm.vm_id, definition, label)
        with self._volume_snapshots(cloud, volumes, label, report) as volume_snapshots:
            spec = self._backup_spec(vm, definition, volumes, volume_snapshots, label)
            dm = DatamoverClient(CONF)
            if self.slots is not None:
                dm = self.slots.gate(dm, report)  # the transfer waits for a slot of its host first
            transfer = self._move_disks(dm, vm.vm_id, spec, report)
        hooks = guest_hooks.record(spec["guest_hooks"], transfer.result.get("guest_hooks") or [])
        record = self._record_vm(vm, definition, volumes, transfer, label, hooks)
        report(1.0, "done")
        return record

    def _detached_volumes(
        self, cloud: UserCloud, vm_id: str, definition: dict[str, Any], label: str
    ) -> list[dict[str, Any]]:
        """The volumes of the VM's last snapshot that are detached now; a note for each one that left."""
        last_vm = self.last_vms.get(vm_id)
        last_def = (last_vm.definition or {}) if last_vm is not None else {}
        known = [*last_def.get("volumes", []), *last_def.get("detached_volumes", [])]
        found, notes = detached.detached_volumes(
            cloud.cinder, known, {v["id"] for v in definition["volumes"]}
        )
        for text in notes:
            self.note(f"{label}: {text}")
        return found

    @contextlib.contextmanager
    def _volume_snapshots(
        self, cloud: UserCloud, volumes: list[dict[str, Any]], label: str, report: Report
    ) -> Iterator[dict[str, str]]:
        """Cinder snapshots of the detached volumes (volume id -> Cinder snapshot id), the consistent point
        the datamover reads them from; deleted again when the block ends (a note for any that is left)."""
        timeout, snap_id = CONF.workflows.volume_timeout, self.snap.id
        taken: dict[str, str] = {}
        try:
            for vol in volumes:
                for old in detached.leftover_snapshots(cloud.cinder, vol["id"], snap_id):
                    LOG.warning(
                        "snapshot %s: deleting Cinder snapshot %s left by an earlier run", snap_id, old
                    )
                    cloud.cinder.delete_snapshot(old, timeout)
                report(0.0, f"taking a Cinder snapshot of detached volume {vol['id']}")
                name = detached.snapshot_name(snap_id, vol["id"])
                taken[vol["id"]] = cloud.cinder.create_snapshot(
                    vol["id"], name, detached.SNAPSHOT_DESCRIPTION, timeout
                )
            yield taken
        finally:
            for volume_id, cinder_snap in taken.items():
                try:
                    cloud.cinder.delete_snapshot(cinder_snap, timeout)
                except Exception as exc:  # the snapshot itself is fine; say what is left
                    LOG.exception("snapshot %s: deleting Cinder snapshot %s", snap_id, cinder_snap)
                    self.note(f"{label}: Cinder snapshot {cinder_snap} of volume {volume_id} is left: {exc}")

    def _backup_spec(
        self,
        vm: Any,
        definition: dict[str, Any],
        volumes: list[dict[str, Any]],
        volume_snapshots: dict[str, str],
        label: str,
    ) -> dict[str, Any]:
        """What the datamover agent is asked to move: the VM's disks (incremental from the previous
        snapshot's checkpoint when its disks are still in the vault) and the detached volumes' snapshots."""
        prev_vm = self.prev_vms.get(vm.vm_id)
        parents = _parent_refs(self.repo, prev_vm) if prev_vm is not None else {}
        if self.prev is not None and not parents:
            self.note(f"{label}: not in the previous snapshot's vault data, took a full backup")
        hooks, hook_notes = guest_hooks.hook_spec(
            self.workload_metadata,
            definition["server"].get("metadata") or {},
            CONF.workflows.guest_hook_timeout,
            CONF.workflows.guest_hook_output_bytes,
        )
        for text in hook_notes:
            self.note(f"{label}: {text}")
        return {
            "vault": self.vault or targets.spec_for_workload(self.workload_id),
            "snapshot_id": self.snap.id,
            "workload_id": self.workload_id,
            "checkpoint": checkpoint_name(self.snap.id),
            "parent_checkpoint": checkpoint_name(self.prev.id) if self.prev is not None and parents else None,
            "parent_checkpoint_xml": (prev_vm.definition or {}).get("checkpoint_xml") if prev_vm else None,
            "disk_id_prefix": vm.vm_id,
            "parents": parents,
            "disk_metadata": {
                v["target"]: {"volume_id": v["id"], "volume_type": v["volume_type"]}
                for v in definition["volumes"]
            },
            "volumes": [
                {
                    "volume_id": vol["id"],
                    "snapshot_id": volume_snapshots[vol["id"]],
                    "parent": _volume_parent(self.repo, prev_vm, vol["id"]),
                    "metadata": {"volume_type": vol["volume_type"]},
                }
                for vol in volumes
            ],
            "guest_hooks": hooks,
        }

    def _move_disks(self, dm: DatamoverClient, vm_id: str, spec: dict[str, Any], report: Report) -> Transfer:
        """The datamover agent on the VM's host takes a consistent point and moves the data."""
        started_at = _now()
        ref = dm.start("backup", vm_id, spec)

        def on_view(view: dict[str, Any]) -> None:
            fraction, message = transfer_progress(view)
            report(fraction, f"disks: {message}")

        result = dm.wait(ref, on_view)["result"]
        return Transfer(ref.id, ref.host, started_at, _now(), result)

    def _record_vm(
        self,
        vm: Any,
        definition: dict[str, Any],
        volumes: list[dict[str, Any]],
        transfer: Transfer,
        label: str,
        hooks: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The VM's part of the snapshot, recorded in the database: its definition with the consistency
        point reached and what its guest hooks did, and its disks (each one a volume or an instance
        disk)."""
        result = transfer.result
        if result.get("chain_note"):
            self.note(f"{label}: {result['chain_note']}")
        for text in guest_hooks.warnings(hooks["results"] if hooks else []):
            self.note(f"{label}: {text}")
        volume_by_target = {v["target"]: v for v in definition["volumes"]}
        for disk in result["disks"]:
            if disk.get("attached") is False:
                disk["kind"] = "volume"
                continue
            vol = volume_by_target.get(disk["target"])
            disk["volume_id"] = vol["id"] if vol else None
            disk["kind"] = "volume" if vol else "instance"
        record = {
            "vm_id": vm.vm_id,
            "vm_name": definition["server"]["name"] or vm.vm_name,
            "definition": {
                **definition,
                "detached_volumes": volumes,
                "consistency": result["consistency"],
                "consistency_reason": result["consistency_reason"],
                "guest_hooks": hooks,
                "checkpoint": result["checkpoint"],
                "checkpoint_xml": result.get("checkpoint_xml"),
                "host": transfer.host,
                "transfer": {
                    "id": transfer.id,
                    "started_at": transfer.started_at,
                    "finished_at": transfer.finished_at,
                },
            },
            "disks": result["disks"],
            "size": sum(d["size"] for d in result["disks"]),
            "status": "available",
        }
        db.snapshot_record_vm(self.snap.id, record)
        LOG.info(
            "snapshot %s: %s done (%s, read %s, stored %s)",
            self.snap.id,
            label,
            result["consistency"],
            human(sum(d["read_bytes"] for d in result["disks"])),
            human(sum(d["new_bytes"] for d in result["disks"])),
        )
        return record


def _volume_parent(repo: Repository, prev_vm: Any | None, volume_id: str) -> str | None:
    """The previous snapshot's disk of this volume (attached then or not), if still in the vault."""
    for disk in (prev_vm.disks or []) if prev_vm is not None else []:
        if disk.get("volume_id") == volume_id:
            try:
                repo.get_manifest(disk["ref"])
            except VaultError:
                return None
            return str(disk["ref"])
    return None


def _discard_crashed(repo: Repository, workload_id: str, current_id: str) -> None:
    """Vault data of this workload's snapshots that ended in error: a worker that died mid-snapshot left
    the disks it had committed (a failure that the worker saw was cleaned up already)."""
    for failed in db.snapshot_list(None, workload_id=workload_id, status=states.ERROR):
        if failed.id != current_id:
            _discard(repo, failed.id)


def _kind(records: list[dict]) -> str:
    return "incremental" if any(d["incremental"] for r in records for d in r["disks"]) else "full"


def _write_documents(
    repo: Repository,
    workload: Any,
    snap: Any,
    records: list[dict],
    notes: list[str],
    kind: str,
    parent_id: str | None,
) -> None:
    """The self-describing part of the target: the workload and the snapshot's VM definitions, sizes,
    times and place in the chain (t4o.workloads.documents; what an import reads back)."""
    repo.put_workload(workload.id, documents.workload_document(workload))
    repo.put_snapshot_metadata(
        snap.id, documents.snapshot_document(snap, records, notes, kind, parent_id), workload_id=workload.id
    )


def _discard(repo: Repository, snapshot_id: str) -> None:
    try:
        if repo.list_disks(snapshot_id):
            repo.delete_snapshot(snapshot_id)
            LOG.info("snapshot %s: disks already stored were deleted", snapshot_id)
    except Exception:
        LOG.exception("snapshot %s: deleting the partial data failed", snapshot_id)
