"""What the control plane asks of the cloud; the implementation is the entry point ``cloud_driver`` names."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

from oslo_config import cfg

from t4o.common import drivers, errors
from t4o.common.config import CONF
from t4o.common.context import RequestContext


@dataclass
class Server:
    id: str
    name: str
    project_id: str
    status: str = "ACTIVE"
    definition: dict[str, Any] = field(default_factory=dict)
    volume_ids: list[str] = field(default_factory=list)  # Cinder volumes attached now


@dataclass(frozen=True)
class RestoreTargets:
    """What a restore's options name in the cloud: flavors and volume types (names or ids), networks
    (ids or names), subnets as (network, subnet id): the subnet must be on that network, and Cinder
    availability zones (names) for new volumes."""

    flavors: frozenset[str] = frozenset()
    volume_types: frozenset[str] = frozenset()
    networks: frozenset[str] = frozenset()
    subnets: frozenset[tuple[str, str]] = frozenset()
    volume_zones: frozenset[str] = frozenset()


class Cloud(abc.ABC):
    """Cloud calls made with the caller's credentials (the context's token)."""

    @classmethod
    @abc.abstractmethod
    def from_conf(cls, conf: cfg.ConfigOpts) -> Cloud:
        """The cloud as the service's configuration describes it."""

    @abc.abstractmethod
    def find_servers(self, context: RequestContext, server_ids: list[str]) -> dict[str, Server | None]:
        """Each id -> the server when it exists in the caller's project, else None."""

    @abc.abstractmethod
    def server_definition(self, context: RequestContext, server_id: str) -> dict[str, Any]:
        """Everything needed to re-create the server: flavor, image, key, metadata, networks, volumes."""

    def missing_identities(
        self, context: RequestContext, project_ids: set[str], user_ids: set[str]
    ) -> tuple[set[str], set[str]]:
        """Which of these Keystone projects and users no longer exist (asked with an admin's token)."""
        raise errors.BadRequest(
            f"The cloud driver {type(self).__name__} cannot look up Keystone projects and users."
        )

    def missing_targets(self, context: RequestContext, wanted: RestoreTargets) -> RestoreTargets:
        """Which of ``wanted`` the caller's cloud does not have. A driver that cannot look them up finds
        none missing: the restore's workflow then refuses what it cannot find."""
        return RestoreTargets()


def get_cloud(conf: cfg.ConfigOpts = CONF) -> Cloud:
    """The cloud of the entry point ``conf.cloud_driver`` in group ``t4o.clouds`` (the product's: nova)."""
    cls: type[Cloud] = drivers.load(drivers.CLOUDS, conf.cloud_driver, f"cloud_driver = {conf.cloud_driver}")
    return cls.from_conf(conf)
