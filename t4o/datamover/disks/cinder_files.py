"""Files of Cinder volumes on a file-based backend (the NFS driver), as the compute host sees them.

The NFS driver keeps a volume in ``<mount point of its share>/volume-<id>`` and, once snapshots exist, a
chain of qcow2 overlays next to it, listed in ``volume-<id>.info`` (JSON)::

    {"active": "volume-<id>.<snap B>", "<snap A>": "volume-<id>.<snap A>", "<snap B>": "volume-<id>.<snap B>"}

The overlay named for a snapshot holds the writes made *after* it; the snapshot's own data is that
overlay's backing file (with its chain), which nothing writes any more. That backing file is what a
backup reads. A restore writes into the volume's active file while the volume is detached.
"""

from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass

from t4o.datamover.disks import qemu_img
from t4o.datamover.disks.errors import DiskError


@dataclass(frozen=True)
class SnapshotImage:
    path: str
    format: str


def volume_dir(dirs: list[str], volume_id: str) -> str:
    """The directory (a share's mount point) holding ``volume-<id>``, searched in ``dirs`` and their
    subdirectories (Cinder and Nova mount each share at ``<base>/<hash of the share>``)."""
    name = f"volume-{volume_id}"
    for base in dirs:
        for candidate in (
            os.path.join(base, name),
            *sorted(glob.glob(os.path.join(glob.escape(base), "*", name))),
        ):
            if os.path.isfile(candidate):
                return os.path.dirname(candidate)
    raise DiskError(
        f"the file of volume {volume_id} is in none of {', '.join(dirs) or '(none)'} "
        "([datamover] volume_dirs: where this host mounts Cinder's shares)"
    )


def _info(directory: str, volume_id: str) -> dict[str, str]:
    path = os.path.join(directory, f"volume-{volume_id}.info")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise DiskError(f"cannot read Cinder's snapshot table {path}: {exc}") from None
    if not isinstance(data, dict):
        raise DiskError(f"Cinder's snapshot table {path} is not a JSON object")
    return {str(k): str(v) for k, v in data.items()}


def _inside(directory: str, name: str) -> str:
    path = os.path.normpath(os.path.join(directory, name))
    if os.path.dirname(path) != os.path.normpath(directory):
        raise DiskError(f"{name!r} is not a file of the share {directory}")
    return path


def snapshot_image(dirs: list[str], volume_id: str, snapshot_id: str) -> SnapshotImage:
    """The file holding Cinder snapshot ``snapshot_id`` of the volume, and its format."""
    directory = volume_dir(dirs, volume_id)
    info = _info(directory, volume_id)
    if snapshot_id not in info:
        raise DiskError(f"Cinder snapshot {snapshot_id} is not in volume {volume_id}'s snapshot table")
    overlay = _inside(directory, info[snapshot_id])
    head = qemu_img.info(overlay, "qcow2")
    if not head.backing_file:
        raise DiskError(f"the overlay {overlay} of snapshot {snapshot_id} has no backing file")
    # Relative to the share as Cinder writes it; an absolute path (another host's mount of the same share)
    # still names a file of this share.
    name = os.path.basename(head.backing_file) if os.path.isabs(head.backing_file) else head.backing_file
    backing = _inside(directory, name)
    return SnapshotImage(backing, head.backing_format or qemu_img.info(backing).format)


def active_image(dirs: list[str], volume_id: str) -> SnapshotImage:
    """The file a detached volume's data is read from and written to now."""
    directory = volume_dir(dirs, volume_id)
    active = _inside(directory, _info(directory, volume_id).get("active") or f"volume-{volume_id}")
    return SnapshotImage(active, qemu_img.info(active).format)
