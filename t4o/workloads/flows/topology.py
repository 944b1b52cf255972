"""Networks of a restore, on the Neutron API itself.

Servers are restored without ports (``networks='none'``): devcloud, like any cloud without OVS/OVN
agents, cannot bind ports. The topology is still brought back: one-click reuses the snapshot's networks
that exist (by id, then by name) and re-creates the missing ones with their subnets, routers and
router interfaces; selective restores map each snapshot network to a target network given by the caller.
"""

from __future__ import annotations

from typing import Any

from openstack.connection import Connection

from t4o.common import errors
from t4o.workloads.flows.cloud_ops import Ledger

SUBNET_FIELDS = ("cidr", "ip_version", "gateway_ip", "enable_dhcp", "allocation_pools", "dns_nameservers")


def recreate(conn: Connection, topology: dict[str, Any], ledger: Ledger) -> dict[str, dict[str, Any]]:
    """Snapshot network id -> {id, name, action: reused|created}."""
    mapping: dict[str, dict[str, Any]] = {}
    subnet_map: dict[str, str] = {}
    for net in topology.get("networks", []):
        found = conn.network.find_network(net["id"], ignore_missing=True) or (
            conn.network.find_network(net["name"], ignore_missing=True) if net.get("name") else None
        )
        if found is not None:
            mapping[net["id"]] = {"id": found.id, "name": found.name, "action": "reused"}
            for sub in topology.get("subnets", []):
                if sub["network_id"] == net["id"]:
                    match = next(
                        (s for s in conn.network.subnets(network_id=found.id) if s.cidr == sub["cidr"]), None
                    )
                    if match is not None:
                        subnet_map[sub["id"]] = match.id
            continue
        created = conn.network.create_network(
            name=net.get("name") or "", admin_state_up=net.get("is_admin_state_up", True)
        )
        ledger.add("network", created.id)
        for sub in topology.get("subnets", []):
            if sub["network_id"] != net["id"]:
                continue
            values = {k: sub.get(k) for k in SUBNET_FIELDS if sub.get(k) is not None}
            if "enable_dhcp" not in values and "is_dhcp_enabled" in sub:
                values["enable_dhcp"] = sub["is_dhcp_enabled"]
            new_sub = conn.network.create_subnet(network_id=created.id, name=sub.get("name") or "", **values)
            subnet_map[sub["id"]] = new_sub.id
        mapping[net["id"]] = {"id": created.id, "name": created.name, "action": "created"}
    for router in topology.get("routers", []):
        interfaces = [i for i in router.get("interfaces", []) if i["subnet_id"] in subnet_map]
        existing = conn.network.find_router(router["id"], ignore_missing=True)
        if existing is None and router.get("name"):
            existing = conn.network.find_router(router["name"], ignore_missing=True)
        if existing is None:
            existing = conn.network.create_router(name=router.get("name") or "")
            ledger.add("router", existing.id)
        attached = {
            ip["subnet_id"] for p in conn.network.ports(device_id=existing.id) for ip in p.fixed_ips or []
        }
        for iface in interfaces:
            if subnet_map[iface["subnet_id"]] not in attached:
                conn.network.add_interface_to_router(existing, subnet_id=subnet_map[iface["subnet_id"]])
    return mapping


def mapped(conn: Connection, topology: dict[str, Any], options: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A selective restore's network mapping, checked against Neutron."""
    mapping: dict[str, dict[str, Any]] = {}
    for item in (options.get("networks_mapping") or {}).get("networks") or []:
        src = ((item or {}).get("snapshot_network") or {}).get("id")
        dst = (item or {}).get("target_network") or {}
        if not src or not dst.get("id"):
            raise errors.BadRequest("networks_mapping entries need snapshot_network.id and target_network.id")
        target = conn.network.find_network(dst["id"], ignore_missing=True)
        if target is None:
            raise errors.BadRequest(f"target network {dst['id']} of the network mapping does not exist")
        subnet_id = (dst.get("subnet") or {}).get("id")
        if subnet_id and conn.network.find_subnet(subnet_id, ignore_missing=True) is None:
            raise errors.BadRequest(f"target subnet {subnet_id} of the network mapping does not exist")
        mapping[src] = {"id": target.id, "name": target.name, "subnet_id": subnet_id, "action": "mapped"}
    known = {n["id"] for n in topology.get("networks", [])}
    unknown = set(mapping) - known
    if unknown:
        raise errors.BadRequest(f"network(s) {', '.join(sorted(unknown))} are not in the snapshot")
    return mapping
