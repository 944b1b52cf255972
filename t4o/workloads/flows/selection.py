"""A restore's choices per VM and per volume, and the names and metadata of what it creates.

``options.openstack.instances[]`` chooses per VM of the snapshot: ``include``, ``name``, ``flavor``
(``{id}`` of an existing flavor, or sizes), ``availability_zone``, ``nics`` (the target network of each of
its recorded ports) and ``vdisks[]`` per volume: ``include`` (false leaves the volume out; Trilio's
``restore_cinder_volume: false`` too), ``new_volume_type``, ``name``, ``availability_zone`` (the Cinder
zone the new volume is created in). ``check`` refuses, before the restore is queued, what names something
the snapshot does not hold (a VM, a volume, a port), with the field's path in the message, and returns
what the options name in the cloud, for the API to look up.

A restored server or volume is named after its original and the snapshot ("web (restored nightly
2026-12-07)", the snapshot's date) unless the options name it, and carries the original's name and id,
the snapshot's id and the restore's id in its metadata, so that it can be traced back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from t4o.common import errors
from t4o.openstack.cloud import RestoreTargets
from t4o.workloads.flows import prerequisites
from t4o.workloads.flows.ports import nic_order

ORIGINAL_NAME = "t4o_original_name"
ORIGINAL_ID = "t4o_original_id"
SNAPSHOT_ID = "t4o_snapshot_id"
RESTORE_ID = "t4o_restore_id"
NAME_LIMIT = 255  # Nova's and Cinder's longest name, and the longest metadata value


def instances(options: dict[str, Any]) -> list[dict[str, Any]]:
    listed = (options.get("openstack") or {}).get("instances") or []
    return [i for i in listed if isinstance(i, dict)]


def instance_options(options: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["id"]: i for i in instances(options) if i.get("id")}


def volume_ids(vm: Any) -> list[str]:
    """The snapshot's volumes of a VM: those of its disks, and those its record lists."""
    definition = vm.definition or {}
    found = [d["volume_id"] for d in vm.disks or [] if d.get("volume_id")]
    for vol in [*(definition.get("volumes") or []), *(definition.get("detached_volumes") or [])]:
        vol_id = vol.get("id") if isinstance(vol, dict) else vol
        if vol_id and vol_id not in found:
            found.append(str(vol_id))
    return found


def boot_volume_id(vm: Any) -> str | None:
    """The volume the VM booted from, when it did."""
    definition = vm.definition or {}
    boot = prerequisites.boot_of(definition) if definition.get("server") or definition.get("boot") else {}
    return boot.get("volume_id") if boot.get("source") == "volume" else None


def vdisk(opts: dict[str, Any], volume_id: str | None) -> dict[str, Any]:
    """A VM's option entry for one of its volumes ({} when none)."""
    for entry in opts.get("vdisks") or []:
        if isinstance(entry, dict) and volume_id and entry.get("id") == volume_id:
            return entry
    return {}


def volume_included(opts: dict[str, Any], volume_id: str | None) -> bool:
    entry = vdisk(opts, volume_id)
    return entry.get("include", True) is not False and entry.get("restore_cinder_volume", True) is not False


def port_for_nic(ports: list[dict[str, Any]], nic: dict[str, Any], index: int) -> dict[str, Any] | None:
    """The recorded port a ``nics`` entry is for: by its ``id`` (the snapshot's port id), else its
    ``mac_address``, else the port at the same place in NIC order."""
    if nic.get("id"):
        return next((p for p in ports if p.get("id") == nic["id"]), None)
    if nic.get("mac_address"):
        return next((p for p in ports if p.get("mac_address") == nic["mac_address"]), None)
    return ports[index] if index < len(ports) else None


def nic_targets(opts: dict[str, Any], ports: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Recorded port id -> the target ``network`` ({id, subnet: {id}}) the VM's options give it."""
    ordered = nic_order(ports)
    out = {}
    for i, nic in enumerate(opts.get("nics") or []):
        port = port_for_nic(ordered, nic, i) if isinstance(nic, dict) else None
        if port is not None and port.get("id") and (nic.get("network") or {}).get("id"):
            out[str(port["id"])] = dict(nic["network"])
    return out


@dataclass
class _Wanted:
    """What the options name in the cloud, each with the first field that names it."""

    where: dict[tuple[str, Any], str] = field(default_factory=dict)

    def add(self, kind: str, value: Any, path: str) -> None:
        self.where.setdefault((kind, value), path)

    def targets(self) -> RestoreTargets:
        of = lambda kind: frozenset(v for k, v in self.where if k == kind)  # noqa: E731
        return RestoreTargets(of("flavor"), of("volume_type"), of("network"), of("subnet"), of("volume_zone"))


def check(options: dict[str, Any], vms: list[Any]) -> tuple[RestoreTargets, dict[tuple[str, Any], str]]:
    """400 naming the field when the options name a VM, volume or port the snapshot does not hold, or
    leave out the volume a VM boots from. Returns what they name in the cloud (flavors, volume types,
    networks, (network, subnet) pairs, Cinder zones) and the field of each."""
    by_id = {vm.vm_id: vm for vm in vms}
    wanted = _Wanted()
    base = "options.openstack"
    for i, opts in enumerate(instances(options)):
        path = f"{base}.instances[{i}]"
        vm = by_id.get(opts.get("id"))
        if vm is None:
            raise errors.BadRequest(f"{path}.id: VM {opts.get('id')} is not in the snapshot")
        label = vm.vm_name or vm.vm_id
        if opts.get("include", True) is False:
            continue
        flavor = opts.get("flavor") or {}
        if flavor.get("id"):
            wanted.add("flavor", str(flavor["id"]), f"{path}.flavor.id")
        own = volume_ids(vm)
        for j, entry in enumerate(opts.get("vdisks") or []):
            where = f"{path}.vdisks[{j}]"
            if entry.get("id") not in own:
                raise errors.BadRequest(f"{where}.id: volume {entry.get('id')} is not a volume of VM {label} "
                                        "in the snapshot")  # fmt: skip
            if not volume_included(opts, entry["id"]):
                if entry["id"] == boot_volume_id(vm):
                    raise errors.BadRequest(
                        f"{where}.include: volume {entry['id']} is the disk VM {label} boots from; leave the "
                        "VM out instead"
                    )
                continue
            if entry.get("new_volume_type"):
                wanted.add("volume_type", str(entry["new_volume_type"]), f"{where}.new_volume_type")
            if entry.get("availability_zone"):
                wanted.add("volume_zone", str(entry["availability_zone"]), f"{where}.availability_zone")
        ports = (vm.definition or {}).get("ports") or []
        ordered = nic_order(ports)
        for j, nic in enumerate(opts.get("nics") or []):
            where = f"{path}.nics[{j}]"
            if port_for_nic(ordered, nic, j) is None:
                which = nic.get("id") or nic.get("mac_address") or f"number {j + 1}"
                raise errors.BadRequest(f"{where}: VM {label} had no port {which} in the snapshot")
            network = nic.get("network") or {}
            wanted.add("network", str(network["id"]), f"{where}.network.id")
            if (network.get("subnet") or {}).get("id"):
                pair = (str(network["id"]), str(network["subnet"]["id"]))
                wanted.add("subnet", pair, f"{where}.network.subnet.id")
    for j, item in enumerate(
        ((options.get("openstack") or {}).get("networks_mapping") or {}).get("networks") or []
    ):
        target = _mapping(_mapping(item).get("target_network"))
        where = f"{base}.networks_mapping.networks[{j}].target_network"
        if target.get("id"):
            wanted.add("network", str(target["id"]), f"{where}.id")
            subnet = _mapping(target.get("subnet")).get("id")
            if subnet:
                wanted.add("subnet", (str(target["id"]), str(subnet)), f"{where}.subnet.id")
    return wanted.targets(), wanted.where


def _mapping(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else {} (``networks_mapping`` entries have no schema)."""
    return value if isinstance(value, dict) else {}


def refuse_missing(missing: RestoreTargets, where: dict[tuple[str, Any], str]) -> None:
    """400 naming the first field whose flavor, volume type, network, subnet or Cinder zone the cloud
    lacks."""
    for kind, values in (("flavor", missing.flavors), ("volume_type", missing.volume_types),
                         ("network", missing.networks)):  # fmt: skip
        if values:
            value = min(values)
            text = kind.replace("_", " ")
            raise errors.BadRequest(f"{where.get((kind, value), kind)}: {text} {value} does not exist")
    if missing.subnets:
        network, subnet = min(missing.subnets)
        path = where.get(("subnet", (network, subnet)), "subnet")
        raise errors.BadRequest(f"{path}: subnet {subnet} does not exist on network {network}")
    if missing.volume_zones:
        zone = min(missing.volume_zones)
        path = where.get(("volume_zone", zone), "availability_zone")
        raise errors.BadRequest(f"{path}: Cinder has no availability zone {zone} for new volumes")


def snapshot_label(snapshot: Any) -> str:
    """The snapshot as a restored name cites it: its name, else its id's first 8 characters; its date."""
    label = (getattr(snapshot, "name", "") or "").strip() or str(snapshot.id)[:8]
    created = getattr(snapshot, "created_at", None)
    return f"{label} {created:%Y-%m-%d}" if created is not None else label


def restored_name(original: str, snapshot: Any) -> str:
    """'web (restored nightly 2026-12-07)', the original cut short to fit Nova's and Cinder's limit."""
    suffix = f" (restored {snapshot_label(snapshot)})"
    return f"{original[: max(0, NAME_LIMIT - len(suffix))]}{suffix}".strip()[:NAME_LIMIT]


def origin(original_name: str, original_id: str | None, snapshot_id: str, restore_id: str) -> dict[str, str]:
    """The metadata a restored server or volume keeps of where it came from."""
    out = {SNAPSHOT_ID: snapshot_id, RESTORE_ID: restore_id}
    if original_name:
        out[ORIGINAL_NAME] = original_name[:NAME_LIMIT]
    if original_id:
        out[ORIGINAL_ID] = original_id
    return out
