"""Snapshot mounts: a snapshot's disks attached read-only to a running recovery VM of the project, where
the guest mounts and reads them (``disks[].device``, or /dev/disk/by-id/virtio-<serial>)."""

from __future__ import annotations

import urllib.parse

from t4o.client.base import Resource
from t4o.client.http import HTTPClient


class Mount(Resource):
    pass


class MountManager:
    """``mount``, ``dismount`` and ``list`` (the project's live mounts)."""

    def __init__(self, http: HTTPClient) -> None:
        self.http = http

    @staticmethod
    def _path(snapshot_id: str, action: str) -> str:
        return f"/snapshots/{urllib.parse.quote(snapshot_id, safe='')}/{action}"

    def mount(self, snapshot_id: str, mount_vm_id: str) -> Mount:
        """Attach the snapshot's disks to the recovery VM (a server ID); the mount with each disk's device."""
        body = {"mount": {"mount_vm_id": mount_vm_id, "options": {}}}
        return Mount(self.http.post(self._path(snapshot_id, "mount"), body)["mount"])

    def dismount(self, snapshot_id: str) -> Mount:
        return Mount(self.http.post(self._path(snapshot_id, "dismount"), {"mount": {}})["mount"])

    def list(self) -> list[Mount]:
        return [Mount(m) for m in self.http.get("/snapshots/mounted/list")["mounted_snapshots"]]
