"""Project settings (name/value pairs with a category and visibility)."""

from __future__ import annotations

from typing import Any

from t4o.client.base import Manager, Resource


class Setting(Resource):
    pass


class SettingManager(Manager[Setting]):
    resource_class = Setting
    path = "/settings"
    key = "setting"
    plural = "settings"
    noun = "setting"
    list_hint = "openstack workload setting list"

    def find(self, name_or_id: str, **list_params: Any) -> Setting:
        return self.get(name_or_id)  # settings are addressed by their (unique) name

    def create(self, settings: list[dict[str, Any]]) -> list[Setting]:
        """Create settings; each dict has name, value and optionally category, type, description,
        is_public, is_hidden, metadata. Fails (409) when one exists already."""
        return self._many(self.http.post(self.path, {"settings": settings}))

    def update(self, settings: list[dict[str, Any]]) -> list[Setting]:
        """Create or update settings."""
        return self._many(self.http.put(self.path, {"settings": settings}))

    def delete(self, name: str) -> None:
        self.http.delete(f"{self.path}/{name}")
