"""What a restored server needs before Nova can create it, found in the cloud or re-created from the
snapshot's record of it: its flavor, keypair, security groups, server group, and the source of its root
disk.

A restore must not need the original objects: a flavor that is gone is replaced by an existing one of the
same sizes or re-created (private, for the project, named after the original); a keypair is re-imported
from its recorded public key; missing security groups are re-created with their rules; a server group
that is gone is re-created with its policy (once, for all its VMs); a root disk whose image is gone (or
that was a volume) is restored into a new bootable volume the server boots from.
Everything created goes into the restore's ledger, and into ``created`` for the restore's result.
The VMs of a restore share one instance (several threads): what one VM re-created, the others reuse.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from oslo_utils import units

from t4o.common import errors
from t4o.common.log import get_logger
from t4o.openstack.connection import UserCloud
from t4o.openstack.nova import FLAVOR_SIZES, FlavorInfo
from t4o.workloads.flows.ledger import Ledger

LOG = get_logger(__name__)

FLAVOR_SUFFIX = "-restored"
RULE_FIELDS = (
    "direction",
    "ether_type",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
    "description",
)


def wanted_sizes(recorded: dict[str, Any], override: dict[str, Any] | None) -> dict[str, int]:
    """The flavor sizes a restored server needs: the recorded flavor's, with a selective restore's
    ``flavor: {vcpus, ram, disk, ephemeral, swap}`` over them."""
    merged = {**recorded, **{k: v for k, v in (override or {}).items() if k in FLAVOR_SIZES}}
    missing = [k for k in ("vcpus", "ram") if merged.get(k) is None]
    if missing:
        raise errors.BadRequest(f"the snapshot records no {' and '.join(missing)} of the VM's flavor")
    return {k: int(merged.get(k) or 0) for k in FLAVOR_SIZES}


def matching_flavor(flavors: list[FlavorInfo], sizes: dict[str, int], name: str | None) -> FlavorInfo | None:
    """An existing flavor of exactly these sizes; one of the original's name first."""
    same = [f for f in flavors if f.sizes() == sizes]
    return next((f for f in same if f.name == name), None) or (same[0] if same else None)


def rule_for(rule: dict[str, Any], groups: dict[str, str]) -> dict[str, Any] | None:
    """A recorded rule as Neutron creates it in the restored group: a remote group is the group it maps
    to (re-created or found); None when that group is not known (the rule cannot be re-created)."""
    rule = {"ether_type": rule.get("ethertype"), **rule}  # the API's name in records not made by the SDK
    out = {k: rule[k] for k in RULE_FIELDS if rule.get(k) not in (None, "")}
    remote = rule.get("remote_group_id")
    if remote:
        if remote not in groups:
            return None
        out["remote_group_id"] = groups[remote]
    return out


def root_disk(disks: list[dict[str, Any]], boot: dict[str, Any]) -> dict[str, Any] | None:
    """The snapshot's disk the server booted from: its boot volume's, else the first instance disk
    (vda, sda, ...)."""
    if boot.get("source") == "volume":
        return next(
            (d for d in disks if d.get("volume_id") and d["volume_id"] == boot.get("volume_id")), None
        )
    local = sorted((d for d in disks if not d.get("volume_id")), key=lambda d: d.get("target") or "")
    return next((d for d in local if (d.get("target") or "").endswith("da")), local[0] if local else None)


def boot_of(definition: dict[str, Any]) -> dict[str, Any]:
    """The recorded boot source; for records older than it, from the server's image and volumes."""
    if definition.get("boot"):
        return dict(definition["boot"])
    image_id = (definition.get("server") or {}).get("image_id")
    if image_id:
        return {"source": "image", "image_id": image_id}
    root = next((v for v in definition.get("volumes") or [] if (v.get("target") or "").endswith("da")), None)
    return {"source": "volume", "volume_id": root["id"] if root else None}


def root_volume_size(disk: dict[str, Any], definition: dict[str, Any]) -> int:
    """GiB of the volume a root disk is restored into: the disk's size, at least the recorded volume's
    and the flavor's root disk."""
    recorded = next(
        (v.get("size") or 0 for v in definition.get("volumes") or [] if v["id"] == disk.get("volume_id")), 0
    )
    flavor_disk = int((definition.get("flavor") or {}).get("disk") or 0)
    return max(1, -(-int(disk.get("size") or 0) // units.Gi), int(recorded), flavor_disk)


@dataclass
class Prerequisites:
    """The flavors, keypairs and security groups of one restore, found or re-created once."""

    ledger: Ledger
    project_id: str
    created: list[dict[str, Any]] = field(default_factory=list)
    _flavors: dict[tuple[int, ...], str] = field(default_factory=dict)
    _flavor_ids: dict[str, str] = field(default_factory=dict)  # recorded flavor id -> existing flavor id
    _keypairs: set[str] = field(default_factory=set)
    _groups: dict[str, str] = field(default_factory=dict)  # recorded group id -> id in the cloud
    _server_groups: dict[str, str] = field(default_factory=dict)  # recorded server group id -> id
    _images: dict[str, bool] = field(default_factory=dict)  # image id -> whether it exists
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def image_exists(self, cloud: UserCloud, image_id: str) -> bool:
        """Whether the image is still in Glance (remembered for the restore's other VMs)."""
        if image_id not in self._images:
            found = cloud.glance.exists(image_id)
            with self._lock:
                self._images[image_id] = found
        return self._images[image_id]

    def _created(self, kind: str, resource_id: str, name: str, why: str, log: list[dict[str, Any]]) -> None:
        item = {"kind": kind, "id": resource_id, "name": name}
        self.ledger.add(kind, resource_id)
        self.created.append(item)
        log.append(item)
        LOG.info("restore: re-created %s %s (%s): %s", kind, name, resource_id, why)

    def flavor(
        self, cloud: UserCloud, recorded: dict[str, Any], override: dict[str, Any] | None, log: list[dict]
    ) -> str:
        """The flavor id a restored server is created with; what was created for it is added to ``log``
        (likewise for keypairs and security groups)."""
        override = override or {}
        if override.get("id"):
            found = cloud.nova.flavor(override["id"])
            if found is None:
                raise errors.BadRequest(f"flavor {override['id']} does not exist")
            return found.id
        resized = any(k in override for k in FLAVOR_SIZES)
        with self._lock:
            if not resized and recorded.get("id"):
                if recorded["id"] in self._flavor_ids:  # another VM of the restore found it already
                    return self._flavor_ids[recorded["id"]]
                found = cloud.nova.flavor(recorded["id"])
                if found is not None:
                    self._flavor_ids[recorded["id"]] = found.id
                    return found.id
            sizes = wanted_sizes(recorded, override)
            key = tuple(sizes.values())
            if key in self._flavors:
                return self._flavors[key]
            name = recorded.get("name") or "flavor"
            match = matching_flavor(cloud.nova.flavors(), sizes, name)
            if match is not None:
                self._flavors[key] = match.id
                return match.id
            try:
                made = cloud.nova.create_flavor(
                    f"{name}{FLAVOR_SUFFIX}", sizes, recorded.get("extra_specs") or {}, self.project_id
                )
            except Exception as exc:
                raise errors.BadRequest(
                    f"no flavor of {sizes} exists and creating one failed ({exc}); create one, or "
                    "restore selectively with an existing flavor"
                ) from exc
            self._created("flavor", made.id, made.name, f"no flavor of {sizes} left", log)
            self._flavors[key] = made.id
            return made.id

    def keypair(self, cloud: UserCloud, recorded: dict[str, Any] | None, log: list[dict]) -> str | None:
        """The keypair's name, re-imported from its recorded public key when it is gone."""
        if not recorded:
            return None
        name = recorded["name"]
        with self._lock:
            if name in self._keypairs or cloud.nova.keypair_exists(name):
                self._keypairs.add(name)
                return str(name)
            if not recorded.get("public_key"):
                LOG.warning("restore: keypair %s is gone and its public key was not recorded", name)
                return None
            cloud.nova.create_keypair(name, recorded["public_key"])
            self._keypairs.add(name)
            self._created("keypair", name, name, "re-imported from its recorded public key", log)
            return str(name)

    def security_groups(self, cloud: UserCloud, recorded: list[dict[str, Any]], log: list[dict]) -> list[str]:
        """Ids of the server's groups: each found in the project (by id, then name) or re-created with its
        rules; a rule's remote group is the group it maps to."""
        made: list[dict[str, Any]] = []
        with self._lock:
            for group in recorded:
                if group["id"] in self._groups:
                    continue
                found = cloud.neutron.security_group_id(group["id"], self.project_id)
                if found is None and group.get("name"):
                    found = cloud.neutron.security_group_id(group["name"], self.project_id)
                if found is None:
                    found = cloud.neutron.create_security_group(group["name"], group.get("description") or "")
                    self._created("security_group", found, group["name"], "missing in the project", log)
                    made.append(group)
                self._groups[group["id"]] = found
            for group in made:
                for rule in group.get("security_group_rules") or []:
                    wanted = rule_for(rule, self._groups)
                    if wanted is None:
                        LOG.warning(
                            "restore: rule %s of group %s refers to group %s, which is not restored",
                            rule.get("id"), group["name"], rule.get("remote_group_id"),
                        )  # fmt: skip
                        continue
                    cloud.neutron.add_security_group_rule(self._groups[group["id"]], wanted)
            return [self._groups[g["id"]] for g in recorded]

    def group_id(self, recorded_id: str) -> str | None:
        """The cloud's id of a recorded security group found or re-created by ``security_groups``."""
        with self._lock:
            return self._groups.get(recorded_id)

    def server_group(self, cloud: UserCloud, recorded: dict[str, Any] | None, log: list[dict]) -> str | None:
        """The id of the server's group: the recorded one while it exists (by id, then by name), else a new
        group of its policy, made once per restore and shared by the VMs that were in it."""
        if not recorded or not recorded.get("id"):
            return None
        with self._lock:
            if recorded["id"] in self._server_groups:
                return self._server_groups[recorded["id"]]
            found = cloud.nova.server_group_id(recorded["id"])
            if found is None and recorded.get("name"):
                found = cloud.nova.server_group_id(recorded["name"])
            if found is None:
                policy = recorded.get("policy") or next(iter(recorded.get("policies") or []), None)
                if not policy:
                    LOG.warning(
                        "restore: server group %s is gone and its policy was not recorded", recorded["id"]
                    )
                    return None
                name = recorded.get("name") or f"group-{recorded['id'][:8]}"
                found = cloud.nova.create_server_group(name, policy, recorded.get("rules") or None)
                self._created("server_group", found, name, f"gone; re-created with policy {policy}", log)
            self._server_groups[recorded["id"]] = found
            return found
