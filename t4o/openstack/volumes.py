"""Cinder calls of the workflows for detached volumes: which volumes of a VM are detached, their
point-in-time Cinder snapshots, and the removal of those snapshots (ours are named ``t4o-...``).

A VM's detached volumes are the volumes that were attached to it at an earlier snapshot of its workload
and are now ``available`` with no attachment: a volume detached for a while (maintenance, a resize
elsewhere) keeps being protected with its VM, and one attached to another server leaves the workload.
"""

from __future__ import annotations

import re
import time
from typing import Any

from openstack import exceptions as sdk_exc
from openstack.connection import Connection

from t4o.common.log import get_logger

LOG = get_logger(__name__)
SNAPSHOT_PREFIX = "t4o-"


class VolumeStepFailed(Exception):
    """A Cinder snapshot did not reach the state we wait for; the message says which and why."""


def describe(vol: Any, device: str | None = None) -> dict[str, Any]:
    """A Cinder volume as a snapshot records it; ``device`` is its attachment's device ('/dev/vdb'),
    None when the volume is detached."""
    return {
        "id": vol.id,
        "name": vol.name,
        "size": vol.size,
        "volume_type": vol.volume_type,
        "bootable": vol.is_bootable,
        "availability_zone": vol.availability_zone,
        "description": vol.description,
        "metadata": dict(vol.metadata or {}),
        "device": device,
        "target": None if device is None else device.rsplit("/", 1)[-1],
        "attached": device is not None,
    }


def detached_volumes(
    conn: Connection, known: list[dict[str, Any]], attached_ids: set[str]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Of the volumes ``known`` from earlier snapshots of a VM, those now detached; and notes about the
    ones that left the VM (deleted, or attached elsewhere)."""
    found, notes, seen = [], [], set()
    for item in known:
        vid = item["id"]
        if vid in attached_ids or vid in seen:
            continue
        seen.add(vid)
        vol = conn.block_storage.find_volume(vid, ignore_missing=True)
        if vol is None:
            notes.append(f"volume {vid} no longer exists: no longer protected")
        elif vol.attachments:
            servers = ", ".join(sorted({a.get("server_id") or "?" for a in vol.attachments}))
            notes.append(
                f"volume {vid} is attached to server {servers} now: no longer protected with this VM"
            )
        elif vol.status != "available":
            raise VolumeStepFailed(f"detached volume {vid} is {vol.status}: it cannot be snapshotted now")
        else:
            found.append(describe(vol))
    return found, notes


def _wait_snapshot(conn: Connection, snapshot_id: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        snap = conn.block_storage.get_snapshot(snapshot_id)
        if snap.status == "available":
            return snap
        if snap.status.startswith("error"):
            raise VolumeStepFailed(
                f"Cinder snapshot {snapshot_id} of volume {snap.volume_id} went to {snap.status}"
            )
        if time.monotonic() > deadline:
            raise VolumeStepFailed(
                f"Cinder snapshot {snapshot_id} is still {snap.status} after {timeout:.0f} s"
            )
        time.sleep(1.0)


def create_snapshot(conn: Connection, volume_id: str, name: str, timeout: float) -> str:
    """A Cinder snapshot of a detached volume, waited for. If it fails, it is deleted again."""
    snap = conn.block_storage.create_snapshot(
        volume_id=volume_id, name=name, description="point in time of a T4O snapshot; deleted after it"
    )
    try:
        _wait_snapshot(conn, snap.id, timeout)
    except BaseException:
        delete_snapshot(conn, snap.id, timeout)
        raise
    return str(snap.id)


def delete_snapshot(conn: Connection, snapshot_id: str, timeout: float) -> None:
    """Delete a Cinder snapshot and wait until it is gone (the NFS driver merges its file on delete)."""
    deadline = time.monotonic() + timeout
    asked = False
    while time.monotonic() < deadline:
        try:
            snap = conn.block_storage.get_snapshot(snapshot_id)
        except sdk_exc.ResourceNotFound:
            return
        if snap.status == "error_deleting":
            raise VolumeStepFailed(f"Cinder could not delete snapshot {snapshot_id} (error_deleting)")
        if not asked and snap.status in ("available", "error"):
            conn.block_storage.delete_snapshot(snapshot_id, ignore_missing=True)
            asked = True
        time.sleep(1.0)
    raise VolumeStepFailed(f"Cinder snapshot {snapshot_id} was not deleted within {timeout:.0f} s")


def snapshot_name(t4o_snapshot_id: str, volume_id: str) -> str:
    return f"{SNAPSHOT_PREFIX}{t4o_snapshot_id}-{volume_id}"


def leftover_snapshots(conn: Connection, volume_id: str, current_snapshot_id: str) -> list[str]:
    """Our Cinder snapshots of a volume that an interrupted T4O snapshot left behind: named exactly as
    ``snapshot_name`` names them for another T4O snapshot (a user's own snapshots are never touched)."""
    ours = re.compile(rf"^{SNAPSHOT_PREFIX}[0-9a-f-]{{36}}-{re.escape(volume_id)}$")
    current = snapshot_name(current_snapshot_id, volume_id)
    return [
        s.id
        for s in conn.block_storage.snapshots(volume_id=volume_id)
        if ours.match(s.name or "") and s.name != current
    ]
