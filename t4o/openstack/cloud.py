"""What the control plane asks of the cloud, and the choice between the real one (Nova) and a fake."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

from t4o.common.context import RequestContext


@dataclass
class Server:
    id: str
    name: str
    project_id: str
    status: str = "ACTIVE"
    definition: dict[str, Any] = field(default_factory=dict)
    volume_ids: list[str] = field(default_factory=list)  # Cinder volumes attached now


class Cloud(abc.ABC):
    """Cloud calls made with the caller's credentials (the context's token)."""

    @abc.abstractmethod
    def find_servers(self, context: RequestContext, server_ids: list[str]) -> dict[str, Server | None]:
        """Each id -> the server when it exists in the caller's project, else None."""

    @abc.abstractmethod
    def server_definition(self, context: RequestContext, server_id: str) -> dict[str, Any]:
        """Everything needed to re-create the server: flavor, image, key, metadata, networks, volumes."""


def get_cloud() -> Cloud:
    from t4o.common.config import CONF

    if CONF.cloud_driver == "fake":
        from t4o.openstack.fake import FakeCloud

        return FakeCloud(CONF.fake_cloud_file)
    from t4o.openstack.nova import NovaCloud

    return NovaCloud(CONF.nova.interface, CONF.nova.region_name)
