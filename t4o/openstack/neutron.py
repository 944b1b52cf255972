"""Neutron (network): what a snapshot records of a server's networks, and what a restore re-creates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openstack import exceptions as sdk_exc
from openstack.connection import Connection

from t4o.openstack.resources import find_or_none, plain


@dataclass(frozen=True)
class NetworkRef:
    id: str
    name: str


@dataclass(frozen=True)
class SubnetRef:
    id: str
    cidr: str


class AddressRefused(Exception):
    """Neutron refused a port's requested addresses: a fixed IP or MAC taken (HTTP 409), or not the
    caller's to choose (HTTP 403: on a network of another project, only its owner or an admin may set
    fixed IPs, MACs and allowed address pairs)."""


class Networking:
    """Neutron calls over one openstacksdk connection."""

    def __init__(self, conn: Connection) -> None:
        self._api = conn.network

    # -- what a snapshot records, as JSON documents

    def ports(self, device_id: str) -> list[dict[str, Any]]:
        return [plain(p) for p in self._api.ports(device_id=device_id)]

    def topology(self, project_id: str, network_ids: set[str]) -> dict[str, Any]:
        """The project's networks (and any of ``network_ids``, e.g. a server's ports' shared ones),
        their subnets, and the routers that join them with their interfaces on those subnets."""
        networks = {n.id: n for n in self._api.networks(project_id=project_id)}
        for nid in network_ids - set(networks):
            try:
                networks[nid] = self._api.get_network(nid)
            except sdk_exc.NotFoundException:
                continue
        subnets = [s for s in self._api.subnets() if s.network_id in networks]
        subnet_ids = {s.id for s in subnets}
        routers = []
        for router in self._api.routers(project_id=project_id):
            interfaces = [
                {"subnet_id": ip["subnet_id"], "ip_address": ip.get("ip_address"), "port_id": port.id}
                for port in self._api.ports(device_id=router.id)
                for ip in port.fixed_ips or []
                if ip.get("subnet_id") in subnet_ids
            ]
            routers.append({**plain(router), "interfaces": interfaces})
        return {
            "networks": [plain(n) for n in networks.values()],
            "subnets": [plain(s) for s in subnets],
            "routers": routers,
        }

    def security_groups(
        self, names: frozenset[str], project_id: str, ids: frozenset[str] = frozenset()
    ) -> list[dict[str, Any]]:
        """The project's groups of these names or ids (the ``default`` one when none), with their rules."""
        out = []
        for group in self._api.security_groups(project_id=project_id):
            if group.name in names or group.id in ids or (not names and not ids and group.name == "default"):
                rules = [plain(r) for r in self._api.security_group_rules(security_group_id=group.id)]
                out.append({**plain(group), "security_group_rules": rules})
        return out

    # -- what a restore finds or creates

    def find_network(self, name_or_id: str) -> NetworkRef | None:
        found = find_or_none(self._api.find_network, name_or_id)
        return None if found is None else NetworkRef(found.id, found.name or "")

    def subnet_exists(self, subnet_id: str) -> bool:
        return find_or_none(self._api.find_subnet, subnet_id) is not None

    def subnets_of(self, network_id: str) -> list[SubnetRef]:
        return [SubnetRef(s.id, s.cidr) for s in self._api.subnets(network_id=network_id)]

    def create_network(self, name: str, admin_state_up: bool) -> NetworkRef:
        net = self._api.create_network(name=name, admin_state_up=admin_state_up)
        return NetworkRef(net.id, net.name or "")

    def create_subnet(self, network_id: str, name: str, **values: Any) -> str:
        return str(self._api.create_subnet(network_id=network_id, name=name, **values).id)

    def find_router(self, name_or_id: str) -> str | None:
        found = find_or_none(self._api.find_router, name_or_id)
        return None if found is None else str(found.id)

    def create_router(self, name: str, external_network_id: str | None = None) -> str:
        """A router; with its gateway on ``external_network_id`` when given."""
        if external_network_id:
            gateway = {"network_id": external_network_id}
            return str(self._api.create_router(name=name, external_gateway_info=gateway).id)
        return str(self._api.create_router(name=name).id)

    def router_subnet_ids(self, router_id: str) -> set[str]:
        """The subnets the router has an interface on."""
        return {ip["subnet_id"] for p in self._api.ports(device_id=router_id) for ip in p.fixed_ips or []}

    def add_router_interface(self, router_id: str, subnet_id: str) -> None:
        self._api.add_interface_to_router(router_id, subnet=subnet_id)

    def delete_router(self, router_id: str) -> None:
        """Remove the router's interfaces, then the router."""
        for subnet_id in self.router_subnet_ids(router_id):
            self._api.remove_interface_from_router(router_id, subnet=subnet_id)
        self._api.delete_router(router_id, ignore_missing=True)

    def delete_network(self, network_id: str) -> None:
        self._api.delete_network(network_id, ignore_missing=True)

    def ip_in_use(self, network_id: str, ip_address: str) -> bool:
        """Whether a port of the network holds this fixed IP."""
        return any(
            True for _ in self._api.ports(network_id=network_id, fixed_ips=[f"ip_address={ip_address}"])
        )

    def mac_in_use(self, network_id: str, mac_address: str) -> bool:
        """Whether a port of the network has this MAC (Neutron keeps MACs unique per network)."""
        return any(True for _ in self._api.ports(network_id=network_id, mac_address=mac_address))

    def create_port(self, network_id: str, **values: Any) -> dict[str, Any]:
        """A port on the network; ``values``: name, description, fixed_ips
        (``[{"subnet_id", "ip_address"}]``), mac_address, security_groups (ids), allowed_address_pairs,
        port_security_enabled. None values are
        left out. Returns the port's id, network_id, fixed_ips and mac_address. Addresses Neutron refuses
        raise :class:`AddressRefused`."""
        fields = {k: v for k, v in values.items() if v is not None}
        try:
            port = self._api.create_port(network_id=network_id, **fields)
        except (sdk_exc.ConflictException, sdk_exc.ForbiddenException) as exc:
            raise AddressRefused(str(exc)) from exc
        return {
            "id": str(port.id),
            "network_id": port.network_id,
            "fixed_ips": [dict(ip) for ip in port.fixed_ips or []],
            "mac_address": port.mac_address,
        }

    def delete_port(self, port_id: str) -> None:
        self._api.delete_port(port_id, ignore_missing=True)

    def security_group_id(self, name_or_id: str, project_id: str) -> str | None:
        """The project's group of this id, else the first of this name; None when there is none."""
        groups = list(self._api.security_groups(project_id=project_id))
        found = next((g for g in groups if g.id == name_or_id), None) or next(
            (g for g in groups if g.name == name_or_id), None
        )
        return None if found is None else str(found.id)

    def create_security_group(self, name: str, description: str) -> str:
        """A group without rules: Neutron's automatic egress rules are removed, so the group holds exactly
        the rules added afterwards."""
        group = self._api.create_security_group(name=name, description=description)
        for rule in self._api.security_group_rules(security_group_id=group.id):
            self._api.delete_security_group_rule(rule, ignore_missing=True)
        return str(group.id)

    def add_security_group_rule(self, group_id: str, rule: dict[str, Any]) -> str:
        return str(self._api.create_security_group_rule(security_group_id=group_id, **rule).id)

    def delete_security_group(self, group_id: str) -> None:
        self._api.delete_security_group(group_id, ignore_missing=True)
