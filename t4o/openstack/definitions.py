"""Capture of a server's definition from Nova, Neutron, Cinder and Glance, as plain JSON documents.

The document holds what a restore needs to re-create the server and its surroundings without the
originals: server fields (metadata, availability zone), flavor sizes and extra specs, image properties,
the keypair's public key, the boot source (image, or the root volume of a server booted from a volume),
security groups with rules, the server group and its policy, ports, the project's networks, subnets and
routers, and volumes with their types, bootable flags and attachments. Records written before a field
existed lack it: a restore reads every field as optional.
"""

from __future__ import annotations

from typing import Any

from t4o.openstack.connection import UserCloud

SERVER_FIELDS = ("id", "name", "status", "availability_zone", "key_name", "metadata", "description")


def capture_volumes(cloud: UserCloud, server_id: str) -> list[dict[str, Any]]:
    """The server's attached volumes, each with the device it is attached as."""
    return [cloud.cinder.get_volume(a.volume_id).record(a.device) for a in cloud.nova.attachments(server_id)]


def boot_source(image_id: str | None, volumes: list[dict[str, Any]]) -> dict[str, Any]:
    """Image, or the root volume of a server booted from one: the volume attached as the first disk
    (vda, sda, ...) since such a server has no image."""
    if image_id:
        return {"source": "image", "image_id": image_id}
    root = next((v for v in volumes if (v.get("target") or "").endswith("da")), None)
    return {"source": "volume", "volume_id": root["id"] if root else None}


def capture_server(cloud: UserCloud, server_id: str) -> dict[str, Any]:
    server = cloud.nova.get_server(server_id)
    project_id = server.project_id or cloud.nova.current_project_id()
    ports = cloud.neutron.ports(server_id)
    image = cloud.glance.document(server.image_id) if server.image_id else None
    volumes = capture_volumes(cloud, server_id)
    groups = [cloud.nova.server_group_document(g) for g in server.document.get("server_groups") or []]
    return {
        "server": {
            **{k: server.document.get(k) for k in SERVER_FIELDS},
            "project_id": project_id,
            "image_id": server.image_id,
        },
        "flavor": cloud.nova.flavor_document(server),
        "image": image or {"id": server.image_id},
        "boot": boot_source(server.image_id, volumes),
        "server_group": next((g for g in groups if g), None),
        "keypair": cloud.nova.keypair_document(server.key_name) if server.key_name else None,
        # Nova names the groups of the server's ports; the ports themselves say which groups exactly.
        "security_groups": cloud.neutron.security_groups(
            server.security_groups,
            project_id,
            frozenset(g for p in ports for g in p.get("security_group_ids") or []),
        ),
        "ports": ports,
        "topology": cloud.neutron.topology(project_id, {p["network_id"] for p in ports}),
        "volumes": volumes,
    }
