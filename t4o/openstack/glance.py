"""Glance (images): the image a server was booted from."""

from __future__ import annotations

from typing import Any

from openstack import exceptions as sdk_exc
from openstack.connection import Connection

from t4o.openstack.resources import find_or_none, plain

IMAGE_FIELDS = ("id", "name", "disk_format", "container_format", "min_disk", "min_ram", "size", "visibility")
# Properties that tell Nova how to run a guest (bus, machine type, OS): kept to boot a restore the same way.
GUEST_PROPERTY_PREFIXES = ("hw_", "os_")


def guest_properties(image: dict[str, Any]) -> dict[str, str]:
    """The image's hw_* and os_* properties, as strings (as Glance and Cinder's image metadata hold them)."""
    found = {**(image.get("properties") or {}), **image}
    return {
        k: str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in found.items()
        if k.startswith(GUEST_PROPERTY_PREFIXES) and v is not None and not isinstance(v, dict | list)
    }


class Images:
    """Glance calls over one openstacksdk connection."""

    def __init__(self, conn: Connection) -> None:
        self._api = conn.image

    def exists(self, image_id: str) -> bool:
        return find_or_none(self._api.find_image, image_id) is not None

    def document(self, image_id: str) -> dict[str, Any] | None:
        """What a restore needs to know of the image; None when it no longer exists."""
        try:
            image = plain(self._api.get_image(image_id))
        except sdk_exc.NotFoundException:
            return None
        return {**{k: image.get(k) for k in IMAGE_FIELDS}, "properties": guest_properties(image)}
