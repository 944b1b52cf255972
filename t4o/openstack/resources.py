"""openstacksdk resources as the JSON documents a snapshot records."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from openstack import exceptions as sdk_exc


def plain(resource: Any, fields: tuple[str, ...] | None = None) -> dict[str, Any]:
    """A resource's own fields (not the computed ``location``), optionally only ``fields``."""
    data = resource.to_dict(computed=False)
    data.pop("location", None)
    return {k: data.get(k) for k in fields} if fields is not None else data


def find_or_none(finder: Callable[..., Any], name_or_id: str) -> Any | None:
    """openstacksdk's ``find_*`` by name or id, None when there is none (the SDK deprecates its own
    ``ignore_missing=True`` for finds)."""
    try:
        return finder(name_or_id, ignore_missing=False)
    except sdk_exc.NotFoundException:
        return None
