"""A VM's detached volumes and their point-in-time Cinder snapshots (ours are named ``t4o-...``).

A VM's detached volumes are the volumes that were attached to it at an earlier snapshot of its workload
and are now ``available`` with no attachment: a volume detached for a while (maintenance, a resize
elsewhere) keeps being protected with its VM, and one attached to another server leaves the workload.
"""

from __future__ import annotations

import re
from typing import Any

from t4o.openstack.cinder import BlockStorage
from t4o.openstack.waits import CloudStepFailed

SNAPSHOT_PREFIX = "t4o-"
SNAPSHOT_DESCRIPTION = "point in time of a T4O snapshot; deleted after it"


def detached_volumes(
    cinder: BlockStorage, known: list[dict[str, Any]], attached_ids: set[str]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Of the volumes ``known`` from earlier snapshots of a VM, those now detached (as a snapshot
    records them); and notes about the ones that left the VM (deleted, or attached elsewhere)."""
    found, notes, seen = [], [], set()
    for item in known:
        vid = item["id"]
        if vid in attached_ids or vid in seen:
            continue
        seen.add(vid)
        vol = cinder.volume(vid)
        if vol is None:
            notes.append(f"volume {vid} no longer exists: no longer protected")
        elif vol.attached_to:
            servers = ", ".join(sorted(set(vol.attached_to)))
            notes.append(
                f"volume {vid} is attached to server {servers} now: no longer protected with this VM"
            )
        elif vol.status != "available":
            raise CloudStepFailed(f"detached volume {vid} is {vol.status}: it cannot be snapshotted now")
        else:
            found.append(vol.record())
    return found, notes


def snapshot_name(t4o_snapshot_id: str, volume_id: str) -> str:
    return f"{SNAPSHOT_PREFIX}{t4o_snapshot_id}-{volume_id}"


def leftover_snapshots(cinder: BlockStorage, volume_id: str, current_snapshot_id: str) -> list[str]:
    """Our Cinder snapshots of a volume that an interrupted T4O snapshot left behind: named exactly as
    ``snapshot_name`` names them for another T4O snapshot (a user's own snapshots are never touched)."""
    ours = re.compile(rf"^{SNAPSHOT_PREFIX}[0-9a-f-]{{36}}-{re.escape(volume_id)}$")
    current = snapshot_name(current_snapshot_id, volume_id)
    return [s.id for s in cinder.snapshots(volume_id) if ours.match(s.name) and s.name != current]
