"""Glance (images): the image a server was booted from."""

from __future__ import annotations

from typing import Any

from openstack import exceptions as sdk_exc
from openstack.connection import Connection

from t4o.openstack.resources import find_or_none, plain

IMAGE_FIELDS = ("id", "name", "disk_format", "container_format", "min_disk", "min_ram")


class Images:
    """Glance calls over one openstacksdk connection."""

    def __init__(self, conn: Connection) -> None:
        self._api = conn.image

    def exists(self, image_id: str) -> bool:
        return find_or_none(self._api.find_image, image_id) is not None

    def document(self, image_id: str) -> dict[str, Any] | None:
        """What a restore needs to know of the image; None when it no longer exists."""
        try:
            return plain(self._api.get_image(image_id), IMAGE_FIELDS)
        except sdk_exc.NotFoundException:
            return None
