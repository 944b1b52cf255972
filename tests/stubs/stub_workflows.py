"""Snapshot and restore workflows without a backup target or datamover, for control-plane tests.

The snapshot records each VM's definition as the cloud reports it; the restore records which VMs it
would bring back. Both go through the whole job life cycle (claim, progress, cancel, finish), so the API,
scheduling, cancel, reset and dead-worker handling are tested against real services.

Options (registered here, not by the product): ``[stub_workflows] step_seconds``, and ``script_file``: a
JSON file {workload_id: [step, ...]} that tests write; each snapshot of a listed workload takes the first
step: ``{"error": message}`` fails it with that message (as a failing cloud or datamover would), and
``{"wait_for": path}`` holds it (the workload busy) until that file exists, for at most 120 s.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from typing import Any

from oslo_config import cfg

from t4o.db import api as db
from t4o.workloads.flows import selection
from t4o.workloads.workflows import Job

OPTS = [
    cfg.FloatOpt(
        "step_seconds",
        default=0.0,
        min=0.0,
        help="Pause after each progress step (so that tests can observe, cancel or kill running jobs).",
    ),
    cfg.StrOpt("script_file", default="", help="JSON file of scripted steps per workload (see above)."),
]
cfg.CONF.register_opts(OPTS, group="stub_workflows")


def _pause() -> None:
    delay = cfg.CONF.stub_workflows.step_seconds
    if delay:
        time.sleep(delay)


def _next_step(workload_id: str) -> dict[str, Any]:
    """Take the workload's first scripted step out of the script file ({} when none)."""
    path = cfg.CONF.stub_workflows.script_file
    if not path or not os.path.exists(path):
        return {}
    with open(path, "r+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        script = json.load(f)
        steps = script.get(workload_id) or []
        if not steps:
            return {}
        step = steps.pop(0)
        f.seek(0)
        f.truncate()
        json.dump(script, f)
    return dict(step)


def snapshot(job: Job) -> dict[str, Any]:
    snap = job.row()
    step = _next_step(snap.workload_id)
    if "wait_for" in step:
        deadline = time.monotonic() + 120
        while not os.path.exists(step["wait_for"]) and time.monotonic() < deadline:
            time.sleep(0.2)
    if "error" in step:
        job.progress(1, "Snapshot started")
        raise RuntimeError(step["error"])
    workload = db.workload_get(snap.workload_id, None)
    vms = list(workload.vms)
    job.progress(1, f"Snapshot of {len(vms)} VM(s) started")
    _pause()
    for i, vm in enumerate(vms, start=1):
        definition = job.cloud.server_definition(job.context, vm.vm_id)
        db.snapshot_record_vm(
            job.id,
            {"vm_id": vm.vm_id, "vm_name": definition.get("name") or vm.vm_name, "definition": definition},
        )
        job.progress(
            int(99 * i / max(len(vms), 1)), f"Recorded the definition of VM {vm.vm_id} ({i}/{len(vms)})"
        )
        _pause()
    return {"progress_msg": f"Snapshot of {len(vms)} VM(s) completed"}


def restore(job: Job) -> dict[str, Any]:
    row = job.row()
    snap = db.snapshot_get(row.snapshot_id, None)
    if row.restore_type in ("network-topology", "security-groups"):  # no VM: nothing to record
        job.progress(50, f"{row.restore_type} restore started")
        _pause()
        return {
            "instances": [],
            "progress_msg": f"{row.restore_type} restore of snapshot {snap.id} completed",
        }
    chosen = _chosen_vms(row.restore_options, [vm.vm_id for vm in snap.vms])
    job.progress(1, f"Restore of {len(chosen)} VM(s) started")
    _pause()
    instances = []
    listed = selection.instance_options(row.restore_options)
    for i, vm in enumerate(v for v in snap.vms if v.vm_id in chosen):
        instances.append(_planned(vm, listed.get(vm.vm_id) or {}, snap, row.id))
        job.progress(int(99 * (i + 1) / max(len(chosen), 1)), f"Prepared VM {vm.vm_id}")
        _pause()
    return {"instances": instances, "progress_msg": f"Restore of {len(instances)} VM(s) completed"}


def _planned(vm: Any, opts: dict[str, Any], snap: Any, restore_id: str) -> dict[str, Any]:
    """What the restore would create of the VM, named as the product names it: its server, and each
    volume with its type (or left out)."""
    volumes = []
    for volume_id in selection.volume_ids(vm):
        entry = selection.vdisk(opts, volume_id)
        if not selection.volume_included(opts, volume_id):
            continue
        volumes.append(
            {
                "source_volume_id": volume_id,
                "name": entry.get("name") or selection.restored_name(f"{vm.vm_name}-volume", snap),
                "volume_type": entry.get("new_volume_type"),
                "availability_zone": entry.get("availability_zone"),
                "metadata": selection.origin("", volume_id, snap.id, restore_id),
            }
        )
    return {
        "id": vm.vm_id,
        "name": opts.get("name") or selection.restored_name(vm.vm_name, snap),
        "source_vm_id": vm.vm_id,
        "status": "recorded",
        "flavor": opts.get("flavor"),
        "nics": selection.nic_targets(opts, (vm.definition or {}).get("ports") or []),
        "metadata": selection.origin(vm.vm_name, vm.vm_id, snap.id, restore_id),
        "volumes": volumes,
        "volumes_left_out": [v for v in selection.volume_ids(vm) if not selection.volume_included(opts, v)],
    }


def _chosen_vms(options: dict[str, Any], all_vms: list[str]) -> set[str]:
    listed = (options.get("openstack") or {}).get("instances") or []
    if not listed:
        return set(all_vms)
    return {i["id"] for i in listed if i.get("include", True)} & set(all_vms)
