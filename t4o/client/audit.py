"""The audit log (admin): mutating API calls and job starts and ends, newest first."""

from __future__ import annotations

from t4o.client.base import Resource
from t4o.client.http import HTTPClient


class AuditEntry(Resource):
    pass


class AuditLogManager:
    def __init__(self, http: HTTPClient) -> None:
        self.http = http

    def list(self, time_in_minutes: int | None = None) -> list[AuditEntry]:
        """The entries of the last ``time_in_minutes`` (the server's default: a day)."""
        body = self.http.get("/workloads/audit/auditlog", time_in_minutes=time_in_minutes)
        return [AuditEntry(e) for e in body["auditlog"]]
