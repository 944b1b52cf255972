"""openstacksdk resources as the JSON documents a snapshot records."""

from __future__ import annotations

from typing import Any


def plain(resource: Any, fields: tuple[str, ...] | None = None) -> dict[str, Any]:
    """A resource's own fields (not the computed ``location``), optionally only ``fields``."""
    data = resource.to_dict(computed=False)
    data.pop("location", None)
    return {k: data.get(k) for k in fields} if fields is not None else data
