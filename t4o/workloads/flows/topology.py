"""Networks of a restore, on the Neutron API itself.

A restored server gets a port per port of its record, on the network its snapshot network maps to (see
``ports``). Where the networks come from:

- one-click, and selective with ``restore_topology: true``: the snapshot's networks that exist (by id,
  then by name) are reused, the missing ones re-created with their subnets, routers and router interfaces
  (a selective restore's ``networks_mapping`` still wins for the networks it names);
- selective with ``restore_topology`` false or absent (Trilio's default): every network the chosen VMs
  had a port on must be mapped to a target network by ``networks_mapping``, else the request is refused
  with 400 naming the network;
- a ``network-topology`` restore re-creates the topology alone, without VMs;
- a VM's own ``nics`` (see ``selection``) put the ports they name on their target network, whatever the
  above says: those ports need no mapping and no re-created network.

Each mapping entry says which snapshot subnets have a subnet of the same CIDR on the target network
(``subnets``): a port keeps its fixed IPs only there.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from t4o.common import errors
from t4o.openstack.neutron import Networking
from t4o.workloads.flows import selection
from t4o.workloads.flows.ledger import Ledger

SUBNET_FIELDS = ("cidr", "ip_version", "gateway_ip", "enable_dhcp", "allocation_pools", "dns_nameservers")


def merged(definitions: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """One topology of the networks, subnets and routers the VM records hold (each VM's record has the
    project's; VMs of other projects' shared networks add theirs), each once, in record order."""
    out: dict[str, dict[str, dict[str, Any]]] = {"networks": {}, "subnets": {}, "routers": {}}
    for definition in definitions:
        topo = definition.get("topology") or {}
        for kind, items in out.items():
            for item in topo.get(kind) or []:
                items.setdefault(item["id"], item)
    return {kind: list(items.values()) for kind, items in out.items()}


def port_networks(
    definitions: Iterable[tuple[str, dict[str, Any]]], covered: Collection[str] = frozenset()
) -> dict[str, list[str]]:
    """Snapshot network id -> the names of the VMs (label, record) that had a port on it, but for the
    ports in ``covered`` (those a VM's ``nics`` place)."""
    out: dict[str, list[str]] = {}
    for label, definition in definitions:
        for port in definition.get("ports") or []:
            if port.get("network_id") and port.get("id") not in covered:
                names = out.setdefault(port["network_id"], [])
                if label not in names:
                    names.append(label)
    return out


def restores_topology(kind: str, options: dict[str, Any]) -> bool:
    """Whether a restore re-creates the snapshot's missing networks: one-click always, selective when
    ``openstack.restore_topology`` is true."""
    if kind == "oneclick":
        return True
    return bool((options.get("openstack") or {}).get("restore_topology"))


def mapped_ids(options: dict[str, Any]) -> set[str]:
    """The snapshot networks a selective restore's ``networks_mapping`` names."""
    items = ((options.get("openstack") or {}).get("networks_mapping") or {}).get("networks") or []
    out = set()
    for item in items:
        source = ((item if isinstance(item, dict) else {}).get("snapshot_network") or {}).get("id")
        if source:
            out.add(str(source))
    return out


def check_mapping(
    kind: str,
    options: dict[str, Any],
    definitions: list[tuple[str, dict[str, Any]]],
    covered: Collection[str] = frozenset(),
) -> None:
    """A selective restore that does not restore the topology needs a target for every network the
    chosen VMs had a port on (but the ``covered`` ports); 400 naming the first network without one."""
    if kind != "selective" or restores_topology(kind, options):
        return
    names = {
        n["id"]: n.get("name") or ""
        for _, d in definitions
        for n in (d.get("topology") or {}).get("networks") or []
    }
    wanted = mapped_ids(options)
    for network_id, vms in port_networks(definitions, covered).items():
        if network_id not in wanted:
            label = f"{names[network_id]} ({network_id})" if names.get(network_id) else network_id
            raise errors.BadRequest(
                f"network {label} of VM(s) {', '.join(vms)} needs a mapping: add it to "
                "options.openstack.networks_mapping.networks (snapshot_network.id -> target_network.id), or "
                "set options.openstack.restore_topology to true to re-create the snapshot's networks"
            )


def check_request(kind: str, options: dict[str, Any], vms: list[Any]) -> None:
    """The network checks a restore request can have before it is queued: ``check_mapping`` over the VMs
    (``vm_id``, ``vm_name``, ``definition``) the options choose (listed and included, else all)."""
    listed = selection.instance_options(options)
    chosen = [
        vm for vm in vms if not listed or (vm.vm_id in listed and listed[vm.vm_id].get("include", True))
    ]
    records = [(vm.vm_name or vm.vm_id, vm.definition or {}) for vm in chosen]
    check_mapping(kind, options, records, covered_ports(options, chosen))


def covered_ports(options: dict[str, Any], vms: Iterable[Any]) -> set[str]:
    """The recorded ports of these VMs that their own ``nics`` put on a target network."""
    listed = selection.instance_options(options)
    out: set[str] = set()
    for vm in vms:
        ports = (vm.definition or {}).get("ports") or []
        out.update(selection.nic_targets(listed.get(vm.vm_id) or {}, ports))
    return out


def _same_cidr(snapshot_subnets: list[dict[str, Any]], targets: list[tuple[str, str]]) -> dict[str, str]:
    """Snapshot subnet id -> the target subnet id of the same CIDR."""
    out = {}
    for sub in snapshot_subnets:
        match = next((tid for tid, cidr in targets if cidr == sub.get("cidr")), None)
        if match is not None:
            out[sub["id"]] = match
    return out


def recreate(
    neutron: Networking,
    topology: dict[str, Any],
    ledger: Ledger,
    skip: set[str] | frozenset[str] = frozenset(),
    routers: list[dict[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Snapshot network id -> {id, name, action: reused|created, subnets: {snapshot subnet -> subnet}},
    for the networks not in ``skip``; the routers joined to their subnets are appended to ``routers``."""
    mapping: dict[str, dict[str, Any]] = {}
    subnet_map: dict[str, str] = {}
    for net in topology.get("networks", []):
        if net["id"] in skip:
            continue
        own = [s for s in topology.get("subnets", []) if s["network_id"] == net["id"]]
        found = neutron.find_network(net["id"]) or (
            neutron.find_network(net["name"]) if net.get("name") else None
        )
        if found is not None:
            subnets = _same_cidr(own, [(s.id, s.cidr) for s in neutron.subnets_of(found.id)])
            subnet_map.update(subnets)
            mapping[net["id"]] = {"id": found.id, "name": found.name, "action": "reused", "subnets": subnets}
            continue
        created = neutron.create_network(net.get("name") or "", net.get("is_admin_state_up", True))
        ledger.add("network", created.id)
        subnets = {}
        for sub in own:
            values = {k: sub.get(k) for k in SUBNET_FIELDS if sub.get(k) is not None}
            if "enable_dhcp" not in values and "is_dhcp_enabled" in sub:
                values["enable_dhcp"] = sub["is_dhcp_enabled"]
            subnets[sub["id"]] = neutron.create_subnet(created.id, sub.get("name") or "", **values)
        subnet_map.update(subnets)
        mapping[net["id"]] = {"id": created.id, "name": created.name, "action": "created", "subnets": subnets}
    for router in topology.get("routers", []):
        interfaces = [i for i in router.get("interfaces", []) if i["subnet_id"] in subnet_map]
        if router.get("interfaces") and not interfaces:
            continue  # it joined only networks that are mapped or skipped
        router_id = neutron.find_router(router["id"])
        if router_id is None and router.get("name"):
            router_id = neutron.find_router(router["name"])
        action = "reused"
        if router_id is None:
            gateway = (router.get("external_gateway_info") or {}).get("network_id")
            if gateway and neutron.find_network(gateway) is None:
                gateway = None  # the external network is gone too: the router is re-created without one
            router_id = neutron.create_router(router.get("name") or "", gateway)
            ledger.add("router", router_id)
            action = "created"
        attached = neutron.router_subnet_ids(router_id)
        added = []
        for iface in interfaces:
            if subnet_map[iface["subnet_id"]] not in attached:
                neutron.add_router_interface(router_id, subnet_map[iface["subnet_id"]])
                added.append(subnet_map[iface["subnet_id"]])
        if routers is not None:
            routers.append(
                {
                    "id": router_id,
                    "name": router.get("name") or "",
                    "action": action,
                    "interfaces_added": added,
                }
            )
    return mapping


def mapped(
    neutron: Networking, topology: dict[str, Any], options: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """A selective restore's network mapping, checked against Neutron: snapshot network id -> {id, name,
    subnet_id (the mapping's target subnet, or None), action: mapped, subnets}."""
    mapping: dict[str, dict[str, Any]] = {}
    for item in (options.get("networks_mapping") or {}).get("networks") or []:
        src = ((item or {}).get("snapshot_network") or {}).get("id")
        dst = (item or {}).get("target_network") or {}
        if not src or not dst.get("id"):
            raise errors.BadRequest("networks_mapping entries need snapshot_network.id and target_network.id")
        mapping[src] = target_of(neutron, topology, src, dst, "of the network mapping")
    known = {n["id"] for n in topology.get("networks", [])}
    unknown = set(mapping) - known
    if unknown:
        raise errors.BadRequest(f"network(s) {', '.join(sorted(unknown))} are not in the snapshot")
    return mapping


def target_of(
    neutron: Networking, topology: dict[str, Any], src: str, dst: dict[str, Any], what: str
) -> dict[str, Any]:
    """The mapping entry of snapshot network ``src`` onto target network ``dst`` ({id, subnet: {id}}),
    checked against Neutron; ``what`` says where the target was given, for the errors."""
    target = neutron.find_network(dst["id"])
    if target is None:
        raise errors.BadRequest(f"target network {dst['id']} {what} does not exist")
    subnet_id = (dst.get("subnet") or {}).get("id")
    targets = [(s.id, s.cidr) for s in neutron.subnets_of(target.id)]
    if subnet_id:
        targets = [t for t in targets if t[0] == subnet_id]
        if not targets and not neutron.subnet_exists(subnet_id):
            raise errors.BadRequest(f"target subnet {subnet_id} {what} does not exist")
        if not targets:
            raise errors.BadRequest(f"target subnet {subnet_id} is not on target network {target.id}")
    own = [s for s in topology.get("subnets", []) if s.get("network_id") == src]
    return {
        "id": target.id,
        "name": target.name,
        "subnet_id": subnet_id,
        "action": "mapped",
        "subnets": _same_cidr(own, targets),
    }


def nic_networks(
    neutron: Networking, topology: dict[str, Any], ports: list[dict[str, Any]], targets: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Recorded port id -> the mapping entry of the target network a VM's ``nics`` give that port."""
    by_id = {p.get("id"): p for p in ports}
    return {
        port_id: target_of(neutron, topology, by_id[port_id].get("network_id") or "", dst, "of the VM's nics")
        for port_id, dst in targets.items()
    }


def of_ports(topology: dict[str, Any], used: dict[str, list[str]]) -> dict[str, Any]:
    """The part of a topology the VMs' ports were on: those networks, their subnets, and the routers
    with an interface on one of those subnets. A VM record holds every network of its project; a
    restore of VMs brings back theirs, not the project's others. Records without ports (older ones)
    keep the whole topology."""
    if not used:
        return topology
    subnets = [s for s in topology.get("subnets", []) if s.get("network_id") in used]
    subnet_ids = {s["id"] for s in subnets}
    return {
        "networks": [n for n in topology.get("networks", []) if n["id"] in used],
        "subnets": subnets,
        "routers": [
            r
            for r in topology.get("routers", [])
            if any(i.get("subnet_id") in subnet_ids for i in r.get("interfaces") or [])
        ],
    }


def networks_for(
    neutron: Networking,
    kind: str,
    options: dict[str, Any],
    definitions: list[tuple[str, dict[str, Any]]],
    ledger: Ledger,
    covered: Collection[str] = frozenset(),
) -> dict[str, dict[str, Any]]:
    """The networks a one-click or selective restore puts the VMs' ports on (see the module's text), but
    for the ``covered`` ports (the VMs' ``nics`` place them)."""
    whole = merged(d for _, d in definitions)
    used = port_networks(definitions, covered)
    if not used and port_networks(definitions):  # every port placed by the VMs' nics: no network to make
        topo: dict[str, Any] = {"networks": [], "subnets": [], "routers": []}
    else:
        topo = of_ports(whole, used)
    check_mapping(kind, options, definitions, covered)
    given = mapped(neutron, whole, options.get("openstack") or {}) if kind == "selective" else {}
    if not restores_topology(kind, options):
        return given
    return {**recreate(neutron, topo, ledger, skip=set(given)), **given}
