"""Trusts: a user's role delegated to T4O's service user, for the jobs that run while nobody is logged in."""

from __future__ import annotations

from typing import Any

from t4o.client.base import Resource
from t4o.client.http import HTTPClient


class Trust(Resource):
    pass


class TrustManager:
    def __init__(self, http: HTTPClient) -> None:
        self.http = http

    def list(self) -> list[Trust]:
        return [Trust(t) for t in self.http.get("/trusts")["trust"]]

    def get(self, name: str) -> Trust:
        return Trust(self.http.get(f"/trusts/{name}")["trust"])

    def create(self, role_name: str | None = None, is_cloud_trust: bool = False) -> Trust:
        """Delegate ``role_name`` (default: the service's configured role) of the caller; replaces the
        caller's previous trust."""
        body: dict[str, Any] = {"trusts": {"is_cloud_trust": is_cloud_trust}}
        if role_name:
            body["trusts"]["role_name"] = role_name
        return Trust(self.http.post("/trusts", body)["trust"][0])

    def delete(self, name: str) -> None:
        self.http.delete(f"/trusts/{name}")
