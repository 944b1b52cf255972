"""Capture of a server's definition from Nova, Neutron, Cinder and Glance, as plain JSON documents.

The document holds what a restore needs to re-create the server and its surroundings: server fields,
flavor, image, keypair, metadata, security groups with rules, ports, the project's networks, subnets
and routers, and volumes with their types and attachments.
"""

from __future__ import annotations

from typing import Any

from openstack import exceptions as sdk_exc
from openstack.connection import Connection

from t4o.openstack.volumes import describe

SERVER_FIELDS = ("id", "name", "status", "availability_zone", "key_name", "metadata", "description")


def _plain(resource: Any, fields: tuple[str, ...] | None = None) -> dict[str, Any]:
    data = resource.to_dict(computed=False)
    data.pop("location", None)
    if fields is not None:
        data = {k: data.get(k) for k in fields}
    return data


def _safe(getter: Any, *args: Any) -> Any:
    try:
        return getter(*args)
    except sdk_exc.ResourceNotFound:
        return None


def capture_flavor(conn: Connection, server: Any) -> dict[str, Any]:
    embedded = dict(server.flavor or {})
    name = embedded.get("original_name") or embedded.get("name")
    found = conn.compute.find_flavor(name, ignore_missing=True) if name else None
    if found is None and embedded.get("id"):
        found = _safe(conn.compute.get_flavor, embedded["id"])
    return {
        "id": found.id if found else embedded.get("id"),
        "name": name or (found.name if found else None),
        "vcpus": embedded.get("vcpus", found.vcpus if found else None),
        "ram": embedded.get("ram", found.ram if found else None),
        "disk": embedded.get("disk", found.disk if found else None),
        "ephemeral": embedded.get("ephemeral", 0),
        "swap": embedded.get("swap", 0),
        "extra_specs": embedded.get("extra_specs", {}),
    }


def capture_network_topology(conn: Connection, project_id: str, network_ids: set[str]) -> dict[str, Any]:
    """The project's networks (and any the server's ports use), their subnets, and the routers that
    join them."""
    networks = {n.id: n for n in conn.network.networks(project_id=project_id)}
    for nid in network_ids - set(networks):
        net = _safe(conn.network.get_network, nid)
        if net is not None:
            networks[nid] = net
    subnets = [s for s in conn.network.subnets() if s.network_id in networks]
    subnet_ids = {s.id for s in subnets}
    routers = []
    for router in conn.network.routers(project_id=project_id):
        interfaces = [
            {"subnet_id": ip["subnet_id"], "ip_address": ip.get("ip_address"), "port_id": port.id}
            for port in conn.network.ports(device_id=router.id)
            for ip in port.fixed_ips or []
            if ip.get("subnet_id") in subnet_ids
        ]
        routers.append({**_plain(router), "interfaces": interfaces})
    return {
        "networks": [_plain(n) for n in networks.values()],
        "subnets": [_plain(s) for s in subnets],
        "routers": routers,
    }


def capture_security_groups(conn: Connection, server: Any, project_id: str) -> list[dict[str, Any]]:
    names = {g.get("name") for g in server.security_groups or [] if g.get("name")}
    out = []
    for group in conn.network.security_groups(project_id=project_id):
        if group.name in names or (not names and group.name == "default"):
            rules = [_plain(r) for r in conn.network.security_group_rules(security_group_id=group.id)]
            out.append({**_plain(group), "security_group_rules": rules})
    return out


def capture_volumes(conn: Connection, server_id: str) -> list[dict[str, Any]]:
    return [
        describe(conn.block_storage.get_volume(att.volume_id), att.device or "")
        for att in conn.compute.volume_attachments(server_id)
    ]


def capture_server(conn: Connection, server_id: str) -> dict[str, Any]:
    server = conn.compute.get_server(server_id)
    project_id = server.project_id or conn.current_project_id
    image_id = (server.image or {}).get("id")
    image = _safe(conn.image.get_image, image_id) if image_id else None
    keypair = _safe(conn.compute.get_keypair, server.key_name) if server.key_name else None
    ports = [_plain(p) for p in conn.network.ports(device_id=server_id)]
    return {
        "server": {**_plain(server, SERVER_FIELDS), "project_id": project_id, "image_id": image_id},
        "flavor": capture_flavor(conn, server),
        "image": _plain(image, ("id", "name", "disk_format", "container_format", "min_disk", "min_ram"))
        if image
        else {"id": image_id},
        "keypair": {"name": keypair.name, "public_key": keypair.public_key, "type": keypair.type}
        if keypair
        else None,
        "security_groups": capture_security_groups(conn, server, project_id),
        "ports": ports,
        "topology": capture_network_topology(conn, project_id, {p["network_id"] for p in ports}),
        "volumes": capture_volumes(conn, server_id),
    }
