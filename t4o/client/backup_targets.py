"""Backup targets (admin): where snapshots are stored; a workload chooses one when it is created."""

from __future__ import annotations

from typing import Any

from t4o.client.base import Resource
from t4o.client.http import HTTPClient


class BackupTarget(Resource):
    pass


class BackupTargetManager:
    def __init__(self, http: HTTPClient) -> None:
        self.http = http

    def list(self) -> list[BackupTarget]:
        return [BackupTarget(t) for t in self.http.get("/backup_targets")["backup_targets"]]

    def get(self, target_id: str) -> BackupTarget:
        return BackupTarget(self.http.get(f"/backup_targets/{target_id}")["backup_target"])

    def create(self, name: str, type: str, url: str, **fields: Any) -> BackupTarget:
        """Fields: is_default, immutable, credentials ({access_key, secret_key}, S3 only)."""
        body = {"name": name, "type": type, "url": url, **{k: v for k, v in fields.items() if v is not None}}
        return BackupTarget(self.http.post("/backup_targets", {"backup_target": body})["backup_target"])

    def update(self, target_id: str, **changes: Any) -> BackupTarget:
        """Changes: name, type, url, is_default, immutable, credentials."""
        body = {k: v for k, v in changes.items() if v is not None}
        answer = self.http.put(f"/backup_targets/{target_id}", {"backup_target": body})
        return BackupTarget(answer["backup_target"])

    def delete(self, target_id: str) -> None:
        self.http.delete(f"/backup_targets/{target_id}")
