"""Capture of a server's definition from Nova, Neutron, Cinder and Glance, as plain JSON documents.

The document holds what a restore needs to re-create the server and its surroundings: server fields,
flavor, image, keypair, metadata, security groups with rules, ports, the project's networks, subnets
and routers, and volumes with their types and attachments.
"""

from __future__ import annotations

from typing import Any

from t4o.openstack.connection import UserCloud

SERVER_FIELDS = ("id", "name", "status", "availability_zone", "key_name", "metadata", "description")


def capture_volumes(cloud: UserCloud, server_id: str) -> list[dict[str, Any]]:
    """The server's attached volumes, each with the device it is attached as."""
    return [cloud.cinder.get_volume(a.volume_id).record(a.device) for a in cloud.nova.attachments(server_id)]


def capture_server(cloud: UserCloud, server_id: str) -> dict[str, Any]:
    server = cloud.nova.get_server(server_id)
    project_id = server.project_id or cloud.nova.current_project_id()
    ports = cloud.neutron.ports(server_id)
    image = cloud.glance.document(server.image_id) if server.image_id else None
    return {
        "server": {
            **{k: server.document.get(k) for k in SERVER_FIELDS},
            "project_id": project_id,
            "image_id": server.image_id,
        },
        "flavor": cloud.nova.flavor_document(server),
        "image": image or {"id": server.image_id},
        "keypair": cloud.nova.keypair_document(server.key_name) if server.key_name else None,
        "security_groups": cloud.neutron.security_groups(server.security_groups, project_id),
        "ports": ports,
        "topology": cloud.neutron.topology(project_id, {p["network_id"] for p in ports}),
        "volumes": capture_volumes(cloud, server_id),
    }
