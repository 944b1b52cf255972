"""Keystone (identity): the catalog entries of T4O's own APIs, registered with an admin's credentials."""

from __future__ import annotations

from typing import cast

import openstack
from openstack import exceptions as sdk_exc
from openstack.identity.v3._proxy import Proxy as IdentityV3

SERVICE_TYPE = "workloads"
INTERFACES = ("public", "internal", "admin")
# service type -> (name, description) in the catalog
SERVICES = {
    "workloads": ("workloadmgr", "T4O backup and recovery of workloads"),
    "datamover": ("datamover", "T4O datamover: disk data between compute hosts and the backup target"),
}


def register_service(
    url: str,
    region: str,
    cloud: str | None = None,
    service_type: str = SERVICE_TYPE,
    interface_urls: dict[str, str] | None = None,
) -> str:
    """Create (or keep) service type ``service_type`` (``workloads`` or ``datamover``) with public,
    internal and admin endpoints, as the admin of clouds.yaml entry ``cloud`` (default: the OS_*
    variables). Every interface gets ``url`` unless ``interface_urls`` names another for it (an
    internal network, an admin address). The region is created if Keystone has none of that name;
    endpoints already there are updated. Returns the service id."""
    name, description = SERVICES[service_type]
    urls = {interface: url for interface in INTERFACES} | (interface_urls or {})
    identity = cast(IdentityV3, (openstack.connect(cloud=cloud) if cloud else openstack.connect()).identity)
    if identity.find_region(region) is None:  # Keystone refuses endpoints in a region it does not have
        identity.create_region(id=region)
    service = next((s for s in identity.services() if s.type == service_type), None)
    if service is None:
        service = identity.create_service(name=name, type=service_type, description=description)
    existing = {(e.interface, e.region_id): e for e in identity.endpoints(service_id=service.id)}
    for interface in INTERFACES:
        ep = existing.get((interface, region))
        if ep is None:
            identity.create_endpoint(
                service_id=service.id, interface=interface, url=urls[interface], region_id=region
            )
        elif ep.url != urls[interface]:
            identity.update_endpoint(ep, url=urls[interface])
    return str(service.id)


def missing_identities(
    identity: IdentityV3, project_ids: set[str], user_ids: set[str]
) -> tuple[set[str], set[str]]:
    """The projects and users of these ids that Keystone no longer has."""
    return (
        {p for p in project_ids if not _exists(identity.get_project, p)},
        {u for u in user_ids if not _exists(identity.get_user, u)},
    )


def _exists(get: object, resource_id: str) -> bool:
    try:
        get(resource_id)  # type: ignore[operator]
    except sdk_exc.NotFoundException:
        return False
    return True
