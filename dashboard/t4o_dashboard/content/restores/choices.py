"""What a restore was asked for per VM of its snapshot (``options.openstack.instances[]``: include, name,
flavor, availability zone, nics, vdisks), in words, with the names the snapshot and the restore's result
give to VMs, volumes, ports and networks, and the flavors' names where they could be listed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _

from t4o_dashboard.content import common
from t4o_dashboard.content.snapshots.forms import volume_type_text


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value or [] if isinstance(v, dict)] if isinstance(value, list) else []


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _definition(vm: dict[str, Any]) -> dict[str, Any]:
    return _mapping(vm.get("metadata"))


def openstack_options(restore: Any) -> dict[str, Any]:
    return _mapping((restore.options or {}).get("openstack"))


def snapshot_volumes(vm: dict[str, Any]) -> list[dict[str, Any]]:
    """A snapshot VM's volumes: id, name, device and type, from its disks and its recorded volumes."""
    definition = _definition(vm)
    recorded: dict[str, dict[str, Any]] = {
        str(v["id"]): v
        for v in [*_dicts(definition.get("volumes")), *_dicts(definition.get("detached_volumes"))]
        if v.get("id")
    }
    found: dict[str, dict[str, Any]] = {}
    for disk in _dicts(vm.get("vdisks")):
        if disk.get("volume_id"):
            record = recorded.get(disk["volume_id"]) or {}
            device = disk.get("target") or disk.get("device") or record.get("target")
            found[disk["volume_id"]] = {**record, "id": disk["volume_id"], "target": device}
    for vol_id, record in recorded.items():
        found.setdefault(vol_id, record)
    return list(found.values())


def volume_label(volume: Mapping[str, Any]) -> str:
    """'ux-data-1 (vdb)', or the volume's id when it had no name."""
    name = volume.get("name") or volume.get("id") or "?"
    return f"{name} ({volume['target']})" if volume.get("target") else str(name)


def network_names(restore: Any, snapshot: Any) -> dict[str, str]:
    """Network id -> name, as the snapshot's records and the restore's result name them."""
    names: dict[str, str] = {}
    for vm in _dicts(getattr(snapshot, "instances", None) if snapshot is not None else None):
        for net in _dicts((_definition(vm).get("topology") or {}).get("networks")):
            if net.get("id") and net.get("name"):
                names[net["id"]] = net["name"]
    for instance in _dicts(restore.instances):
        for net in (instance.get("networks") or {}).values():
            if isinstance(net, dict) and net.get("id") and net.get("name"):
                names[net["id"]] = net["name"]
        for port in _dicts(instance.get("ports")):
            if port.get("network_id") and port.get("network_name"):
                names[port["network_id"]] = port["network_name"]
    return names


def _flavor_text(flavor: Any, flavor_names: Mapping[str, str], was: Mapping[str, Any]) -> str:
    if not isinstance(flavor, dict) or not flavor:
        if was.get("name"):
            return str(_("As in the snapshot (%s)")) % was["name"]
        return str(_("As in the snapshot"))
    if flavor.get("id"):
        return flavor_names.get(str(flavor["id"]), str(flavor["id"]))
    parts = []
    if flavor.get("vcpus") is not None:
        parts.append(f"{flavor['vcpus']} vCPU")
    if flavor.get("ram") is not None:
        parts.append(str(_("%s RAM")) % common.size(int(flavor["ram"]) * 2**20))
    for key, text in (("disk", _("%s GiB disk")), ("ephemeral", _("%s GiB ephemeral"))):
        if flavor.get(key) is not None:
            parts.append(str(text) % flavor[key])
    if flavor.get("swap") is not None:
        parts.append(str(_("%s swap")) % common.size(int(flavor["swap"]) * 2**20))
    return str(_("Sizes: %s")) % ", ".join(parts)


def _port_label(port: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """'10.0.0.5 on private': a recorded port by its addresses (else MAC, else id) and network."""
    ips = ", ".join(
        ip.get("ip_address") or "" for ip in _dicts(port.get("fixed_ips")) if ip.get("ip_address")
    )
    label = ips or port.get("mac_address") or port.get("id") or "?"
    net = port.get("network_id")
    return (
        str(_("%(port)s on %(network)s")) % {"port": label, "network": names.get(net, net)} if net else label
    )


def _target_text(target: Mapping[str, Any], names: Mapping[str, str]) -> str:
    text = names.get(target.get("id") or "", target.get("id") or "?")
    subnet = _mapping(target.get("subnet")).get("id")
    return str(_("%(network)s, subnet %(subnet)s")) % {"network": text, "subnet": subnet} if subnet else text


def _port_for_nic(ports: list[dict[str, Any]], nic: Mapping[str, Any], index: int) -> dict[str, Any] | None:
    """The recorded port a nics entry is for, as the API matches it: by id, by MAC, else by NIC order."""
    if nic.get("id"):
        return next((p for p in ports if p.get("id") == nic["id"]), None)
    if nic.get("mac_address"):
        return next((p for p in ports if p.get("mac_address") == nic["mac_address"]), None)
    return ports[index] if index < len(ports) else None


def _networks(
    vm: dict[str, Any], entry: Mapping[str, Any], openstack: Mapping[str, Any], names: Mapping[str, str]
) -> list[str]:
    """One line per recorded port of the VM: the network it was asked to join, and by which option."""
    # NIC order: the ports' creation order (the API's order too).
    ports = sorted(_dicts(_definition(vm).get("ports")), key=lambda p: str(p.get("created_at") or ""))
    chosen: dict[str, dict[str, Any]] = {}
    lines = []
    for i, nic in enumerate(_dicts(entry.get("nics"))):
        port = _port_for_nic(ports, nic, i)
        target = _mapping(nic.get("network"))
        if port is None:  # a VM not in the snapshot's record: the choice as given
            lines.append(
                str(_("interface %(n)d: to %(target)s")) % {"n": i + 1, "target": _target_text(target, names)}
            )
        else:
            chosen[str(port.get("id"))] = target
    mapping = {
        str((m.get("snapshot_network") or {}).get("id")): m.get("target_network") or {}
        for m in _dicts((openstack.get("networks_mapping") or {}).get("networks"))
        if isinstance(m.get("snapshot_network"), dict)
    }
    for port in ports:
        label = _port_label(port, names)
        if str(port.get("id")) in chosen:
            how = _("to %s, chosen for this VM") % _target_text(chosen[str(port["id"])], names)
        elif port.get("network_id") in mapping:
            how = _("to %s, by the network mapping") % _target_text(mapping[port["network_id"]], names)
        else:
            how = _("to the snapshot's network (reused, or re-created when gone)")
        lines.append(f"{label}: {how}")
    if not lines and "ports" in _definition(vm):
        lines.append(str(_("None: the VM had no network interface in the snapshot")))
    return lines


def _volumes(vm: dict[str, Any], entry: Mapping[str, Any]) -> list[str]:
    """One line per volume of the VM: left out, or restored (with the type and name asked for)."""
    options = {v.get("id"): v for v in _dicts(entry.get("vdisks")) if v.get("id")}
    known = snapshot_volumes(vm)
    known_ids = {v.get("id") for v in known}
    lines = []
    for volume in [*known, *({"id": vid} for vid in options if vid not in known_ids)]:
        choice = options.get(volume.get("id")) or {}
        label = volume_label(volume)
        if choice.get("include") is False or choice.get("restore_cinder_volume") is False:
            lines.append(str(_("%s: left out")) % label)
            continue
        was = volume_type_text(volume.get("volume_type"))
        if choice.get("new_volume_type"):
            text = str(_("%(label)s: restored as type %(type)s (was %(was)s)")) % {
                "label": label,
                "type": volume_type_text(choice["new_volume_type"]),
                "was": was,
            }
        else:
            text = str(_("%(label)s: restored, type %(type)s as in the snapshot")) % {
                "label": label,
                "type": was,
            }
        if choice.get("name"):
            text += ", " + str(_("named %s")) % choice["name"]
        if choice.get("availability_zone"):
            text += ", " + str(_("in zone %s")) % choice["availability_zone"]
        lines.append(text)
    return lines


def per_vm(restore: Any, snapshot: Any, flavor_names: Mapping[str, str]) -> list[dict[str, Any]]:
    """One entry per VM the restore's options name (and, when they name any, per VM of the snapshot
    they leave unnamed, which is not restored); [] for a restore that chose nothing per VM."""
    openstack = openstack_options(restore)
    entries = _dicts(openstack.get("instances"))
    if not entries:
        return []
    snapshot_vms = {
        vm["id"]: vm
        for vm in _dicts(getattr(snapshot, "instances", None) if snapshot is not None else None)
        if vm.get("id")
    }
    names = network_names(restore, snapshot)
    listed = {e.get("id") for e in entries}
    entries += [
        {"id": vm_id, "include": False, "unlisted": True} for vm_id in snapshot_vms if vm_id not in listed
    ]
    rows = []
    for entry in entries:
        vm = snapshot_vms.get(entry.get("id")) or {"id": entry.get("id")}
        row: dict[str, Any] = {"vm": vm.get("name") or entry.get("id") or "?", "vm_id": entry.get("id") or ""}
        if entry.get("include", True) is False:
            row["restored"] = str(_("No: not listed in the options") if entry.get("unlisted") else _("No"))
            rows.append(row)
            continue
        row["restored"] = str(_("Yes"))
        if restore.restore_type == "inplace":
            row["name"] = str(_("Its own disks, in place"))
            rows.append(row)
            continue
        row["name"] = entry.get("name") or str(_("Named after the original and the snapshot"))
        row["flavor"] = _flavor_text(entry.get("flavor"), flavor_names, _definition(vm).get("flavor") or {})
        row["zone"] = entry.get("availability_zone") or ""
        row["networks"] = _networks(vm, entry, openstack, names)
        row["volumes"] = _volumes(vm, entry)
        rows.append(row)
    return rows


def flavor_ids(restore: Any) -> set[str]:
    """The flavors the options name by id (or name), to look up their names."""
    return {
        str(e["flavor"]["id"])
        for e in _dicts(openstack_options(restore).get("instances"))
        if isinstance(e.get("flavor"), dict) and e["flavor"].get("id")
    }
