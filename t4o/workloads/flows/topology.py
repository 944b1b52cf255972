"""Networks of a restore, on the Neutron API itself.

Servers are restored without ports (``networks='none'``): devcloud, like any cloud without OVS/OVN
agents, cannot bind ports. The topology is still brought back: one-click reuses the snapshot's networks
that exist (by id, then by name) and re-creates the missing ones with their subnets, routers and
router interfaces; selective restores map each snapshot network to a target network given by the caller.
"""

from __future__ import annotations

from typing import Any

from t4o.common import errors
from t4o.openstack.neutron import Networking
from t4o.workloads.flows.ledger import Ledger

SUBNET_FIELDS = ("cidr", "ip_version", "gateway_ip", "enable_dhcp", "allocation_pools", "dns_nameservers")


def recreate(neutron: Networking, topology: dict[str, Any], ledger: Ledger) -> dict[str, dict[str, Any]]:
    """Snapshot network id -> {id, name, action: reused|created}."""
    mapping: dict[str, dict[str, Any]] = {}
    subnet_map: dict[str, str] = {}
    for net in topology.get("networks", []):
        found = neutron.find_network(net["id"]) or (
            neutron.find_network(net["name"]) if net.get("name") else None
        )
        if found is not None:
            mapping[net["id"]] = {"id": found.id, "name": found.name, "action": "reused"}
            subnets = neutron.subnets_of(found.id)
            for sub in topology.get("subnets", []):
                if sub["network_id"] == net["id"]:
                    match = next((s for s in subnets if s.cidr == sub["cidr"]), None)
                    if match is not None:
                        subnet_map[sub["id"]] = match.id
            continue
        created = neutron.create_network(net.get("name") or "", net.get("is_admin_state_up", True))
        ledger.add("network", created.id)
        for sub in topology.get("subnets", []):
            if sub["network_id"] != net["id"]:
                continue
            values = {k: sub.get(k) for k in SUBNET_FIELDS if sub.get(k) is not None}
            if "enable_dhcp" not in values and "is_dhcp_enabled" in sub:
                values["enable_dhcp"] = sub["is_dhcp_enabled"]
            subnet_map[sub["id"]] = neutron.create_subnet(created.id, sub.get("name") or "", **values)
        mapping[net["id"]] = {"id": created.id, "name": created.name, "action": "created"}
    for router in topology.get("routers", []):
        interfaces = [i for i in router.get("interfaces", []) if i["subnet_id"] in subnet_map]
        router_id = neutron.find_router(router["id"])
        if router_id is None and router.get("name"):
            router_id = neutron.find_router(router["name"])
        if router_id is None:
            router_id = neutron.create_router(router.get("name") or "")
            ledger.add("router", router_id)
        attached = neutron.router_subnet_ids(router_id)
        for iface in interfaces:
            if subnet_map[iface["subnet_id"]] not in attached:
                neutron.add_router_interface(router_id, subnet_map[iface["subnet_id"]])
    return mapping


def mapped(
    neutron: Networking, topology: dict[str, Any], options: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """A selective restore's network mapping, checked against Neutron."""
    mapping: dict[str, dict[str, Any]] = {}
    for item in (options.get("networks_mapping") or {}).get("networks") or []:
        src = ((item or {}).get("snapshot_network") or {}).get("id")
        dst = (item or {}).get("target_network") or {}
        if not src or not dst.get("id"):
            raise errors.BadRequest("networks_mapping entries need snapshot_network.id and target_network.id")
        target = neutron.find_network(dst["id"])
        if target is None:
            raise errors.BadRequest(f"target network {dst['id']} of the network mapping does not exist")
        subnet_id = (dst.get("subnet") or {}).get("id")
        if subnet_id and not neutron.subnet_exists(subnet_id):
            raise errors.BadRequest(f"target subnet {subnet_id} of the network mapping does not exist")
        mapping[src] = {"id": target.id, "name": target.name, "subnet_id": subnet_id, "action": "mapped"}
    known = {n["id"] for n in topology.get("networks", [])}
    unknown = set(mapping) - known
    if unknown:
        raise errors.BadRequest(f"network(s) {', '.join(sorted(unknown))} are not in the snapshot")
    return mapping
