"""The Neutron ports of a restored server, one per port of its record, in NIC order (``nic_order``).

Each port goes on the network its snapshot network maps to (see ``topology``), with the restored
security groups (ids mapped by ``prerequisites``), the allowed address pairs and port security as recorded.
A port keeps its original fixed IP on a target subnet of the same CIDR, and its MAC, when no port of the
target network holds them; otherwise Neutron picks one, the port's result says so (``ip_kept``,
``mac_kept``) and the restore carries a warning; likewise when Neutron refuses the addresses at create
time (taken since the check, or a network of another project where only its owner may choose them).
Every port created goes into the ledger: a failed restore deletes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from t4o.common import errors
from t4o.common.log import get_logger
from t4o.openstack.neutron import AddressRefused, Networking
from t4o.workloads.flows.ledger import Ledger

LOG = get_logger(__name__)


@dataclass
class PortPlan:
    """What one recorded port becomes: the create call's values, and what of the original it keeps."""

    network_id: str
    values: dict[str, Any]
    ip_kept: bool = True
    mac_kept: bool = True
    notes: list[str] = field(default_factory=list)

    def attempts(self) -> list[tuple[str, dict[str, Any]]]:
        """The create calls to try in turn while Neutron refuses addresses: as planned; with Neutron choosing
        the fixed IPs (on the same subnets) and the MAC; also without the allowed address pairs (which only
        the network's owner may set)."""
        ips = [{"subnet_id": ip["subnet_id"]} for ip in self.values.get("fixed_ips") or []]
        chosen = {**self.values, "fixed_ips": ips or None, "mac_address": None}
        out = [("", self.values)]
        if chosen != self.values:
            out.append(("its fixed IPs and MAC", chosen))
        if chosen.get("allowed_address_pairs"):
            out.append(("its allowed address pairs", {**chosen, "allowed_address_pairs": None}))
        return out


def _groups_of(port: dict[str, Any]) -> list[str]:
    return list(port.get("security_group_ids") or port.get("security_groups") or [])


def _port_security(port: dict[str, Any]) -> bool | None:
    value = port.get("is_port_security_enabled", port.get("port_security_enabled"))
    return None if value is None else bool(value)


def plan(
    neutron: Networking,
    port: dict[str, Any],
    network: dict[str, Any],
    group_id: Callable[[str], str | None],
) -> PortPlan:
    """The port to create for a recorded ``port`` on the target ``network`` (a topology mapping entry)."""
    target = network["id"]
    chosen_subnet = network.get("subnet_id")
    subnets: dict[str, str] = network.get("subnets") or {}
    out = PortPlan(target, {})
    fixed_ips: list[dict[str, str]] = []
    for ip in port.get("fixed_ips") or []:
        on = subnets.get(ip.get("subnet_id") or "")
        if on is not None and (not chosen_subnet or on == chosen_subnet):
            address = ip.get("ip_address")
            if address and neutron.ip_in_use(target, address):
                out.ip_kept = False
                out.notes.append(f"IP {address} is taken on network {network.get('name') or target}")
                fixed_ips.append({"subnet_id": on})
            else:
                fixed_ips.append({"subnet_id": on, "ip_address": address} if address else {"subnet_id": on})
            continue
        out.ip_kept = False
        out.notes.append(
            f"no subnet of {ip.get('ip_address')}'s CIDR on network {network.get('name') or target}"
        )
        if chosen_subnet and {"subnet_id": chosen_subnet} not in fixed_ips:
            fixed_ips.append({"subnet_id": chosen_subnet})
    if not port.get("fixed_ips") and chosen_subnet:
        fixed_ips.append({"subnet_id": chosen_subnet})
    mac = port.get("mac_address")
    if mac and neutron.mac_in_use(target, mac):
        out.mac_kept, mac = False, None
        out.notes.append(f"MAC {port['mac_address']} is taken on network {network.get('name') or target}")
    secure = _port_security(port)
    groups: list[str] = []
    for recorded in _groups_of(port) if secure is not False else []:
        found = group_id(recorded)
        if found is None:
            LOG.warning("restore: security group %s of port %s is not restored", recorded, port.get("id"))
            continue
        groups.append(found)
    # Neutron records a pair's MAC as the port's own when none was given: such a pair follows the new port.
    pairs = [
        {
            k: v
            for k, v in pair.items()
            if k in ("ip_address", "mac_address") and v and v != port.get("mac_address")
        }
        for pair in port.get("allowed_address_pairs") or []
        if pair.get("ip_address")
    ]
    out.values = {
        "name": port.get("name") or None,
        "description": port.get("description") or None,
        "fixed_ips": fixed_ips or None,
        "mac_address": mac,
        # With port security off Neutron refuses groups and address pairs.
        # None (Neutron's default group) when none of the recorded groups could be restored.
        "security_groups": groups if secure is not False and (groups or not _groups_of(port)) else None,
        "allowed_address_pairs": (pairs or None) if secure is not False else None,
        # Only when off: a cloud without the port-security extension refuses the attribute.
        "port_security_enabled": False if secure is False else None,
    }
    return out


def nic_order(ports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The recorded ports in the order the server got them: Neutron lists a server's ports in no
    particular order, while Nova creates a server's ports in NIC order and later-attached interfaces
    come after, so by creation time (the record's order where it is missing or equal)."""
    return sorted(ports, key=lambda p: str(p.get("created_at") or ""))


def create(
    neutron: Networking,
    ledger: Ledger,
    label: str,
    ports: list[dict[str, Any]],
    networks: dict[str, dict[str, Any]],
    group_id: Callable[[str], str | None],
    warnings: list[str],
    by_port: dict[str, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """A port per recorded port, in order; each one's result. ``by_port`` (recorded port id -> network
    entry, from the VM's ``nics``) wins over ``networks`` (by snapshot network). What was not kept is
    appended to ``warnings`` (and logged)."""
    out = []
    for port in nic_order(ports):
        network = (by_port or {}).get(port.get("id") or "") or networks.get(port.get("network_id") or "")
        if network is None:
            raise errors.BadRequest(
                f"{label}: network {port.get('network_id')} of its port {port.get('mac_address')} has no "
                "target network: map it in networks_mapping or restore the topology"
            )
        wanted = plan(neutron, port, network, group_id)
        attempts = wanted.attempts()
        for i, (_, values) in enumerate(attempts):
            try:
                made = neutron.create_port(wanted.network_id, **values)
                break
            except AddressRefused as exc:  # taken since the check, or not the project's to set
                if i + 1 == len(attempts):
                    raise
                LOG.info("restore: %s: a port on %s was refused (%s), retrying without %s", label,
                         wanted.network_id, exc, attempts[i + 1][0])  # fmt: skip
                wanted.notes.append(f"Neutron refused {attempts[i + 1][0]}: {exc}")
                if attempts[i + 1][0] == "its fixed IPs and MAC":
                    wanted.ip_kept = wanted.ip_kept and not any(
                        ip.get("ip_address") for ip in values.get("fixed_ips") or []
                    )
                    wanted.mac_kept = wanted.mac_kept and not values.get("mac_address")
        ledger.add("port", made["id"])
        if wanted.notes:
            note = f"{label}: port {made['id']} differs from its record ({'; '.join(wanted.notes)})"
            LOG.warning("restore: %s", note)
            warnings.append(note)
        out.append(
            {
                "id": made["id"],
                "network_id": made["network_id"],
                "network_name": network.get("name") or "",
                "fixed_ips": made["fixed_ips"],
                "mac_address": made["mac_address"],
                "ip_kept": wanted.ip_kept,
                "mac_kept": wanted.mac_kept,
                "source_port_id": port.get("id"),
                "source_fixed_ips": port.get("fixed_ips") or [],
                "source_mac_address": port.get("mac_address"),
            }
        )
    return out
