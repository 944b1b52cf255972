"""Cinder (block storage): volumes and their snapshots."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, cast

from openstack import exceptions as sdk_exc
from openstack.block_storage.v3._proxy import Proxy as BlockStorageV3
from openstack.connection import Connection

from t4o.openstack.resources import find_or_none
from t4o.openstack.waits import GONE, CloudStepFailed, wait_for_status

# States in which Cinder accepts a delete of a volume.
DELETABLE = ("available", "error", "error_restoring", "error_extending")


@dataclass(frozen=True)
class Volume:
    id: str
    name: str
    size: int  # GiB
    volume_type: str | None
    bootable: bool
    availability_zone: str | None
    description: str | None
    status: str
    metadata: dict[str, str] = field(default_factory=dict)
    attached_to: tuple[str, ...] = ()  # server ids

    def record(self, device: str | None = None) -> dict[str, Any]:
        """The volume as a snapshot records it; ``device`` is its attachment's device ('/dev/vdb'),
        None when the volume is detached."""
        return {
            "id": self.id,
            "name": self.name,
            "size": self.size,
            "volume_type": self.volume_type,
            "bootable": self.bootable,
            "availability_zone": self.availability_zone,
            "description": self.description,
            "metadata": dict(self.metadata),
            "device": device,
            "target": None if device is None else device.rsplit("/", 1)[-1],
            "attached": device is not None,
        }


@dataclass(frozen=True)
class VolumeSnapshot:
    id: str
    name: str
    volume_id: str
    status: str


def _volume(vol: Any) -> Volume:
    return Volume(
        id=vol.id,
        name=vol.name or "",
        size=vol.size,
        volume_type=vol.volume_type,
        bootable=bool(vol.is_bootable),
        availability_zone=vol.availability_zone,
        description=vol.description,
        status=vol.status or "",
        metadata=dict(vol.metadata or {}),
        attached_to=tuple(a.get("server_id") or "?" for a in vol.attachments or []),
    )


class BlockStorage:
    """Cinder calls over one openstacksdk connection."""

    def __init__(self, conn: Connection) -> None:
        self._api = conn.block_storage

    def volume(self, volume_id: str) -> Volume | None:
        found = find_or_none(self._api.find_volume, volume_id)
        return None if found is None else _volume(found)

    def get_volume(self, volume_id: str) -> Volume:
        return _volume(self._api.get_volume(volume_id))

    def create_volume(
        self,
        size: int,
        name: str,
        volume_type: str | None,
        description: str,
        metadata: dict[str, str] | None = None,
        availability_zone: str | None = None,
    ) -> str:
        """An empty volume (in Cinder's default zone unless ``availability_zone`` names one); returns
        its id at once (it is still being created)."""
        extra: dict[str, Any] = {"metadata": metadata} if metadata else {}
        if availability_zone:
            extra["availability_zone"] = availability_zone
        vol = self._api.create_volume(
            size=size, name=name, volume_type=volume_type, description=description, **extra
        )
        return str(vol.id)

    def volume_type_exists(self, name_or_id: str) -> bool:
        return find_or_none(self._api.find_type, name_or_id) is not None

    def availability_zones(self) -> set[str] | None:
        """The names of Cinder's availability zones that are available for new volumes; None when the
        caller may not list them (Cinder's policy), so that they cannot be checked."""
        try:
            zones = list(cast(BlockStorageV3, self._api).availability_zones())  # a v3 call
        except sdk_exc.ForbiddenException:
            return None
        return {str(z.name) for z in zones if z.name and (z.state or {}).get("available", True)}

    def make_bootable(self, volume_id: str, image_metadata: dict[str, str] | None = None) -> None:
        """Mark a volume bootable (Nova boots only from those), with the image properties Nova reads
        from a boot volume (hw_*, os_*) when given."""
        self._api.set_volume_bootable_status(volume_id, True)
        if image_metadata:
            self._api.set_volume_image_metadata(volume_id, **image_metadata)

    def wait_volume(self, volume_id: str, status: str, timeout: float) -> Volume:
        """Until the volume is in ``status``; an error state fails at once."""
        return _volume(
            wait_for_status(
                f"volume {volume_id}",
                lambda: find_or_none(self._api.find_volume, volume_id),
                {status},
                timeout,
            )
        )

    def delete_volume(self, volume_id: str, timeout: float) -> None:
        """Delete a volume (detached by the caller) once Cinder accepts it, and wait until it is gone."""
        what = f"volume {volume_id}"
        fetch = lambda: find_or_none(self._api.find_volume, volume_id)  # noqa: E731
        vol = wait_for_status(what, fetch, {*DELETABLE, GONE}, timeout, poll=1.0, first=1.0)
        if vol is None:
            return
        self._api.delete_volume(vol, ignore_missing=True)
        try:
            self._api.wait_for_delete(vol, interval=1, wait=math.ceil(timeout))
        except sdk_exc.ResourceTimeout:
            raise CloudStepFailed(f"{what} was not deleted within {timeout:.0f} s") from None

    def snapshots(self, volume_id: str) -> list[VolumeSnapshot]:
        return [
            VolumeSnapshot(s.id, s.name or "", s.volume_id, s.status or "")
            for s in self._api.snapshots(volume_id=volume_id)
        ]

    def create_snapshot(self, volume_id: str, name: str, description: str, timeout: float) -> str:
        """A snapshot of a volume that is not in use, waited for; one that fails is deleted again."""
        snap = self._api.create_snapshot(volume_id=volume_id, name=name, description=description)
        try:
            self._api.wait_for_status(
                snap, "available", failures=["error"], interval=1, wait=math.ceil(timeout)
            )
        except BaseException as exc:
            self.delete_snapshot(snap.id, timeout)
            if isinstance(exc, sdk_exc.ResourceFailure):
                raise CloudStepFailed(
                    f"Cinder snapshot {snap.id} of volume {volume_id} went to error"
                ) from None
            if isinstance(exc, sdk_exc.ResourceTimeout):
                raise CloudStepFailed(
                    f"Cinder snapshot {snap.id} is not available after {timeout:.0f} s"
                ) from None
            raise
        return str(snap.id)

    def delete_snapshot(self, snapshot_id: str, timeout: float) -> None:
        """Delete a snapshot and wait until it is gone (the NFS driver merges its file on delete); one
        still being created is deleted once it is done, one Cinder cannot delete fails at once."""
        what = f"Cinder snapshot {snapshot_id}"
        fetch = lambda: find_or_none(self._api.find_snapshot, snapshot_id)  # noqa: E731
        snap = wait_for_status(
            what, fetch, {"available", "error", "deleting", GONE}, timeout, poll=1.0, first=1.0
        )
        if snap is None:
            return
        if snap.status != "deleting":
            self._api.delete_snapshot(snap, ignore_missing=True)
        wait_for_status(what, fetch, {GONE}, timeout, poll=1.0, first=1.0)
