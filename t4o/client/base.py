"""Resources (API objects with attribute access) and the manager base every resource type shares."""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from t4o.client import exceptions as exc
from t4o.client.http import HTTPClient


class Resource(dict[str, Any]):
    """One API object: a dict of the API's fields, readable as attributes too (``wl.name``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as err:
            raise AttributeError(name) from err


R = TypeVar("R", bound=Resource)


class Manager(Generic[R]):
    """CRUD helpers shared by the typed managers; ``noun`` names the resource in messages."""

    resource_class: type[R]
    path: ClassVar[str]
    key: ClassVar[str]
    plural: ClassVar[str]
    noun: ClassVar[str]
    list_hint: ClassVar[str] = ""

    def __init__(self, http: HTTPClient) -> None:
        self.http = http

    def _one(self, body: Any) -> R:
        return self.resource_class(body[self.key])

    def _many(self, body: Any) -> list[R]:
        return [self.resource_class(x) for x in body[self.plural]]

    def get(self, resource_id: str) -> R:
        return self._one(self.http.get(f"{self.path}/{resource_id}"))

    def list(self, detail: bool = False, **params: Any) -> list[R]:
        """Every resource (all pages); ``limit``/``marker`` fetch one page only."""
        path = self.path + ("/detail" if detail else "")
        return [self.resource_class(x) for x in self.http.get_list(path, self.plural, **params)]

    def find(self, name_or_id: str, **list_params: Any) -> R:
        """The resource whose ID or (unique) name is ``name_or_id``."""
        if not name_or_id:
            raise exc.NotFound(404, f"Give the name or ID of the {self.noun}.")
        try:
            return self.get(name_or_id)
        except exc.NotFound:
            pass
        matches = [r for r in self.list(**list_params) if r.get("name") == name_or_id]
        if len(matches) == 1:
            return self.get(matches[0]["id"])
        if not matches:
            hint = f" (see `{self.list_hint}`)" if self.list_hint else ""
            raise exc.NotFound(404, f"No {self.noun} with name or ID '{name_or_id}'{hint}.")
        ids = ", ".join(m["id"] for m in matches)
        raise exc.AmbiguousName(
            f"{len(matches)} {self.noun}s are named '{name_or_id}' ({ids}); give the ID of the one you mean."
        )
