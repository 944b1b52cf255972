"""Project names to IDs through Keystone, so that operators may name projects as they know them."""

from __future__ import annotations

from keystoneauth1 import adapter
from keystoneauth1 import exceptions as ksa_exc

from t4o.client import exceptions as exc
from t4o.client.http import HTTPClient


class ProjectResolver:
    """``id_of("demo")`` is the ID of project demo when Keystone can tell (an admin may list projects);
    anything Keystone does not know, or a client without Keystone (all-in-one), keeps the value as given."""

    def __init__(self, http: HTTPClient, keystone: bool = True) -> None:
        self.http = http
        self.keystone = keystone
        self._identity: adapter.Adapter | None = None

    def _adapter(self) -> adapter.Adapter:
        if self._identity is None:
            self._identity = adapter.Adapter(
                self.http.session,
                service_type="identity",
                interface=self.http.interface,
                region_name=self.http.region_name,
                version="3.0",
            )
        return self._identity

    def id_of(self, name_or_id: str) -> str:
        if not self.keystone or not name_or_id:
            return name_or_id
        try:
            identity = self._adapter()
            resp = identity.get(f"/projects/{name_or_id}", raise_exc=False)
            if resp.status_code == 200:
                return str(resp.json()["project"]["id"])
            resp = identity.get("/projects", params={"name": name_or_id}, raise_exc=False)
            if resp.status_code != 200:
                return name_or_id
            found = resp.json().get("projects") or []
        except (ksa_exc.ClientException, ValueError, KeyError):
            return name_or_id
        if len(found) > 1:
            ids = ", ".join(str(p["id"]) for p in found)
            raise exc.AmbiguousName(
                f"{len(found)} projects are named '{name_or_id}' ({ids}); give the ID of the one you mean."
            )
        return str(found[0]["id"]) if found else name_or_id
