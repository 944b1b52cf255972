"""Restore options from a JSON/YAML file (Trilio's --filename) and from command-line flags."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from t4o.cli import base


def load_file(path: str) -> dict[str, Any]:
    """The restore options in ``path``: the ``options`` mapping itself, ``{"restore": {...}}`` as the API
    takes it, or ``{"name":..., "options": {...}}``. Returns ``{"options": ..., "name": ..., ...}``."""
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise ValueError(f"Cannot read the restore file {path}: {err.strerror or err}") from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise ValueError(f"The restore file {path} is not valid JSON or YAML{where}.") from err
    if not isinstance(data, dict):
        raise ValueError(f"The restore file {path} must hold a mapping of restore options.")
    if isinstance(data.get("restore"), dict):
        data = data["restore"]
    if isinstance(data.get("options"), dict):
        return {"name": data.get("name"), "description": data.get("description"), "options": data["options"]}
    return {"name": None, "description": None, "options": data}


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--file",
        "--filename",
        dest="file",
        metavar="<file>",
        help="JSON or YAML file with the restore options (Trilio's format: type, restore_type, "
        "openstack: {instances: [...], networks_mapping: {...}}); the flags below add to it",
    )
    parser.add_argument(
        "--instance",
        dest="instances",
        action="append",
        default=[],
        metavar="<server-id>",
        help="Restore this VM of the snapshot (repeatable); VMs not named are left out",
    )
    parser.add_argument(
        "--exclude-instance",
        dest="excluded",
        action="append",
        default=[],
        metavar="<server-id>",
        help="Leave this VM of the snapshot out (repeatable)",
    )
    parser.add_argument(
        "--instance-name",
        dest="new_names",
        action="append",
        type=base.key_value,
        default=[],
        metavar="<server-id=new-name>",
        help="Name of the restored VM (repeatable)",
    )
    parser.add_argument(
        "--instance-flavor",
        dest="flavors",
        action="append",
        type=base.key_value,
        default=[],
        metavar="<server-id=flavor>",
        help="Flavor (name or id) of the restored VM (repeatable)",
    )
    parser.add_argument(
        "--exclude-volume",
        dest="excluded_volumes",
        action="append",
        type=base.key_value,
        default=[],
        metavar="<server-id=volume-id>",
        help="Leave this volume of the VM out (repeatable; not the volume it boots from)",
    )
    parser.add_argument(
        "--volume-type",
        dest="volume_types",
        action="append",
        type=volume_type,
        default=[],
        metavar="<server-id=volume-id:type>",
        help="Volume type (name or id) of the restored copy of this volume of the VM (repeatable)",
    )
    parser.add_argument(
        "--network-map",
        dest="network_map",
        action="append",
        type=base.key_value,
        default=[],
        metavar="<snapshot-network-id=target-network-id>",
        help="Attach the restored VMs' ports of a snapshot network to a target network (repeatable)",
    )
    parser.add_argument(
        "--restore-topology",
        action="store_true",
        default=None,
        help="Recreate the snapshot's networks, subnets and routers instead of mapping networks",
    )
    parser.add_argument(
        "--zone",
        "--availability-zone",
        dest="zone",
        metavar="<zone>",
        help="Availability zone of the restored VMs",
    )


def volume_type(text: str) -> tuple[str, str, str]:
    """argparse type of ``SERVER=VOLUME:TYPE``."""
    server, volume = base.key_value(text)
    volume, sep, kind = volume.partition(":")
    if not sep or not volume or not kind:
        raise argparse.ArgumentTypeError(f"expected SERVER=VOLUME:TYPE, got {text!r}")
    return server, volume, kind


def _vdisk(entry: dict[str, Any], volume_id: str) -> dict[str, Any]:
    vdisks = entry.setdefault("vdisks", [])
    for vdisk in vdisks:
        if vdisk.get("id") == volume_id:
            return dict(vdisk)
    vdisks.append({"id": volume_id})
    return dict(vdisks[-1])


def _set_vdisk(entry: dict[str, Any], volume_id: str, **values: Any) -> None:
    vdisk = {**_vdisk(entry, volume_id), **values}
    entry["vdisks"] = [vdisk if v.get("id") == volume_id else v for v in entry["vdisks"]]


def _instance(openstack: dict[str, Any], vm_id: str) -> dict[str, Any]:
    instances = openstack.setdefault("instances", [])
    for entry in instances:
        if entry.get("id") == vm_id:
            return entry
    entry = {"id": vm_id, "include": True}
    instances.append(entry)
    return entry


def build(args: argparse.Namespace, restore_type: str) -> dict[str, Any]:
    """``{"name", "description", "options"}`` from --file and the flags; flags win over the file."""
    loaded = load_file(args.file) if args.file else {"name": None, "description": None, "options": {}}
    options: dict[str, Any] = dict(loaded["options"])
    openstack: dict[str, Any] = dict(options.get("openstack") or {})
    for vm_id in args.instances:
        _instance(openstack, vm_id)["include"] = True
    for vm_id in args.excluded:
        _instance(openstack, vm_id)["include"] = False
    for vm_id, name in args.new_names:
        _instance(openstack, vm_id)["name"] = name
    for vm_id, flavor in args.flavors:
        _instance(openstack, vm_id)["flavor"] = {"id": flavor}
    for vm_id, volume_id in args.excluded_volumes:
        _set_vdisk(_instance(openstack, vm_id), volume_id, include=False)
    for vm_id, volume_id, kind in args.volume_types:
        _set_vdisk(_instance(openstack, vm_id), volume_id, new_volume_type=kind)
    if args.network_map:
        networks = openstack.setdefault("networks_mapping", {}).setdefault("networks", [])
        for source, target in args.network_map:
            networks.append({"snapshot_network": {"id": source}, "target_network": {"id": target}})
    if args.restore_topology is not None:
        openstack["restore_topology"] = args.restore_topology
    if args.zone:
        options["zone"] = args.zone
    if openstack:
        options["openstack"] = openstack
    if restore_type in ("selective", "inplace") and not openstack.get("instances"):
        raise ValueError(
            f"A {restore_type} restore needs the VMs to restore: give --file (--filename) or --instance."
        )
    if (file_type := options.get("restore_type")) and file_type != restore_type:
        raise ValueError(f"The restore file asks for a {file_type} restore, not {restore_type}.")
    return {
        "name": getattr(args, "name", None) or loaded["name"],
        "description": getattr(args, "description", None) or loaded["description"],
        "options": options,
    }
