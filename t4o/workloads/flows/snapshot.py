"""The snapshot workflow: for each VM, capture its definition, then have the datamover agent on its
compute host take a consistent point and move its disks into the vault (incremental from the previous
snapshot's checkpoint when that chain holds); the snapshot document is written last.

A failure or a cancel deletes the disks this snapshot already stored (the vault then holds no partial
snapshot; chunks go at the next gc) and says which VM and what failed.
"""

from __future__ import annotations

import time
from typing import Any

from t4o.common.config import CONF
from t4o.common.log import get_logger
from t4o.datamover import vault_io
from t4o.datamover.client import DatamoverClient, TransferFailed
from t4o.db import api as db
from t4o.db import states
from t4o.openstack.connection import user_connection
from t4o.openstack.definitions import capture_server
from t4o.vault import Repository, VaultError
from t4o.workloads.flows import config
from t4o.workloads.flows.progress import human, reporter
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
    create_if_missing`` says so (see vault_io.open_target); a restore never does."""
    target = CONF.backup_target
    return vault_io.open_target(
        target.url,
        target.password,
        create_if_missing=create and target.create_if_missing,
        require_mount=target.require_mount,
    )


def vault_spec() -> dict[str, Any]:
    """How the agents open the backup target (they never create it)."""
    target = CONF.backup_target
    return {"url": target.url, "password": target.password, "require_mount": target.require_mount}


def snapshot(job: Job) -> dict[str, Any]:
    if CONF.cloud_driver == "fake":  # a fake cloud has no disks to move: the definitions-only workflow
        from t4o.workloads import placeholder

        return placeholder.snapshot(job)
    config.ensure_registered()
    started = time.monotonic()
    snap = job.row()
    workload = db.workload_get(snap.workload_id, None)
    vms = list(workload.vms)
    job.progress(1, f"Snapshot of {len(vms)} VM(s) started")
    repo = open_target()
    conn = user_connection(job.context, CONF.nova.interface, CONF.nova.region_name)
    dm = DatamoverClient(CONF)
    prev = previous_snapshot(workload.id, snap.id) if snap.snapshot_type != "full" else None
    prev_vms = {v.vm_id: v for v in prev.vms} if prev is not None else {}
    notes: list[str] = []
    if snap.snapshot_type != "full" and prev is None:
        notes.append("no earlier snapshot to build on: took a full snapshot")
    records: list[dict[str, Any]] = []
    stored_any = False
    current = ""
    try:
        for i, vm in enumerate(vms):
            current = f"VM {vm.vm_name or vm.vm_id} ({vm.vm_id})"
            low, high = 2 + 95 * i // len(vms), 2 + 95 * (i + 1) // len(vms)
            job.progress(low, f"{current}: capturing its definition")
            definition = capture_server(conn, vm.vm_id)
            prev_vm = prev_vms.get(vm.vm_id)
            parents = _parent_refs(repo, prev_vm) if prev_vm is not None else {}
            if prev is not None and not parents:
                notes.append(f"{current}: not in the previous snapshot's vault data, took a full backup")
            volume_by_target = {v["target"]: v for v in definition["volumes"]}
            spec = {
                "vault": vault_spec(),
                "snapshot_id": snap.id,
                "workload_id": workload.id,
                "checkpoint": checkpoint_name(snap.id),
                "parent_checkpoint": checkpoint_name(prev.id) if prev is not None and parents else None,
                "parent_checkpoint_xml": (prev_vm.definition or {}).get("checkpoint_xml")
                if prev_vm
                else None,
                "disk_id_prefix": vm.vm_id,
                "parents": parents,
                "disk_metadata": {
                    t: {"volume_id": v["id"], "volume_type": v["volume_type"]}
                    for t, v in volume_by_target.items()
                },
            }
            ref = dm.start("backup", vm.vm_id, spec)
            stored_any = True
            view = dm.wait(ref, reporter(job, f"{current}: disks", low, high))
            result = view["result"]
            if result.get("chain_note"):
                notes.append(f"{current}: {result['chain_note']}")
            for disk in result["disks"]:
                vol = volume_by_target.get(disk["target"])
                disk["volume_id"] = vol["id"] if vol else None
                disk["kind"] = "volume" if vol else "instance"
            record = {
                "vm_id": vm.vm_id,
                "vm_name": definition["server"]["name"] or vm.vm_name,
                "definition": {
                    **definition,
                    "consistency": result["consistency"],
                    "consistency_reason": result["consistency_reason"],
                    "checkpoint": result["checkpoint"],
                    "checkpoint_xml": result.get("checkpoint_xml"),
                    "host": ref.host,
                },
                "disks": result["disks"],
                "size": sum(d["size"] for d in result["disks"]),
                "status": "available",
            }
            db.snapshot_record_vm(snap.id, record)
            records.append(record)
            LOG.info(
                "snapshot %s: %s done (%s, read %s, stored %s)",
                snap.id,
                current,
                result["consistency"],
                human(sum(d["read_bytes"] for d in result["disks"])),
                human(sum(d["new_bytes"] for d in result["disks"])),
            )
        job.progress(98, "Writing the snapshot document")
        _write_documents(repo, workload, snap, records, notes)
    except (JobCancelled, JobResolved):
        if stored_any:
            _discard(repo, snap.id)
        raise
    except TransferFailed as exc:
        if stored_any:
            _discard(repo, snap.id)
        raise RuntimeError(f"{current}: the data transfer failed: {exc}") from None
    except Exception as exc:
        if stored_any:
            _discard(repo, snap.id)
        raise RuntimeError(f"{current or 'snapshot'}: {exc}") from exc
    disks = [d for r in records for d in r["disks"]]
    read = sum(d["read_bytes"] for d in disks)
    stored = sum(d["new_bytes"] for d in disks)
    kind = "incremental" if any(d["incremental"] for d in disks) else "full"
    message = (
        f"Snapshot of {len(records)} VM(s), {len(disks)} disk(s) completed ({kind}): "
        f"read {human(read)}, stored {human(stored)} in {time.monotonic() - started:.1f} s"
    )
    return {
        "size": sum(r["size"] for r in records),
        "uploaded_size": stored,
        "snapshot_type": kind,
        "progress_msg": message,
        "warning_msg": "; ".join(notes) or None,
    }


def _write_documents(
    repo: Repository, workload: Any, snap: Any, records: list[dict], notes: list[str]
) -> None:
    """The self-describing part of the target: the workload and the snapshot's VM definitions."""
    repo.put_workload(
        workload.id,
        {
            "id": workload.id,
            "name": workload.name,
            "project_id": workload.project_id,
            "vms": [{"id": v.vm_id, "name": v.vm_name} for v in workload.vms],
        },
    )
    repo.put_snapshot_metadata(
        snap.id,
        {
            "t4o_snapshot_id": snap.id,
            "name": snap.name,
            "project_id": snap.project_id,
            "snapshot_type": snap.snapshot_type,
            "notes": notes,
            "vms": records,
        },
        workload_id=workload.id,
    )


def _discard(repo: Repository, snapshot_id: str) -> None:
    try:
        if repo.list_disks(snapshot_id):
            repo.delete_snapshot(snapshot_id)
            LOG.info("snapshot %s: disks already stored were deleted", snapshot_id)
    except Exception:
        LOG.exception("snapshot %s: deleting the partial data failed", snapshot_id)
