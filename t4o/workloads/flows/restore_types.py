"""Trilio's restores that bring back no VM: ``network-topology`` and ``security-groups``.

- ``network-topology``: the snapshot's networks, subnets, routers and router interfaces, as a one-click
  restore re-creates them (reused when they exist, by id then by name; re-created when gone).
- ``security-groups``: the snapshot's security groups with their rules. A group of the project with the
  same name and the same rules is reused; otherwise the group is created (a group of that name whose
  rules differ is left as it is), except ``default``: Neutron keeps one per project, which gets the
  recorded rules it lacks. A rule whose remote group is one of the snapshot's refers to its restored
  counterpart.

Both take every VM of the snapshot, and undo what they created when they fail.
"""

from __future__ import annotations

import time
from typing import Any

from t4o.common.config import CONF
from t4o.common.log import get_logger
from t4o.openstack.connection import user_cloud
from t4o.openstack.neutron import Networking
from t4o.workloads.flows import topology
from t4o.workloads.flows.ledger import Ledger
from t4o.workloads.flows.prerequisites import rule_for
from t4o.workloads.workflows import Job, JobCancelled, JobResolved

LOG = get_logger(__name__)

WITHOUT_VMS = ("network-topology", "security-groups")


def run(job: Job, kind: str, vms: list[Any]) -> dict[str, Any]:
    started = time.monotonic()
    definitions = [vm.definition or {} for vm in vms]
    cloud = user_cloud(job.context)
    ledger = Ledger.recorded(cloud, CONF.workflows.volume_timeout, str(job.id), job.context)
    job.progress(1, f"{kind} restore started")
    try:
        if kind == "network-topology":
            message = network_topology(cloud.neutron, ledger, definitions)
        else:
            message = security_groups(cloud.neutron, ledger, cloud.nova.current_project_id(), definitions)
    except (JobCancelled, JobResolved):
        ledger.undo()
        raise
    except Exception as exc:
        raise RuntimeError(ledger.undo_after(exc)) from exc
    return {
        "instances": [],
        "progress_msg": f"{message} in {time.monotonic() - started:.1f} s",
    }


def network_topology(neutron: Networking, ledger: Ledger, definitions: list[dict[str, Any]]) -> str:
    """Re-create the merged topology of the VM records; what was reused or created, in one sentence."""
    topo = topology.merged(definitions)
    if not topo["networks"]:
        return "The snapshot records no network: nothing to restore"
    routers: list[dict[str, Any]] = []
    networks = topology.recreate(neutron, topo, ledger, routers=routers)
    said = [f"network {n['name'] or n['id']} {n['action']} ({n['id']})" for n in networks.values()]
    said += [
        f"router {r['name'] or r['id']} {r['action']} ({r['id']}, "
        f"{len(r['interfaces_added'])} interface(s) added)"
        for r in routers
    ]
    LOG.info("network-topology restore: %s", "; ".join(said))
    return f"Restored the network topology: {'; '.join(said)}"


def _rule_key(rule: dict[str, Any], own_id: str, names: dict[str, str]) -> tuple[Any, ...]:
    """What makes two rules the same, whatever their ids: a remote group by its name (its own group as
    ``self``)."""
    remote = rule.get("remote_group_id")
    return (
        rule.get("direction"),
        rule.get("ether_type") or rule.get("ethertype"),
        rule.get("protocol"),
        rule.get("port_range_min"),
        rule.get("port_range_max"),
        rule.get("remote_ip_prefix"),
        None if not remote else "self" if remote == own_id else names.get(remote, remote),
    )


def _rules(group: dict[str, Any], names: dict[str, str]) -> list[tuple[Any, ...]]:
    return sorted(
        (_rule_key(r, group["id"], names) for r in group.get("security_group_rules") or []),
        key=repr,
    )


def security_groups(
    neutron: Networking, ledger: Ledger, project_id: str, definitions: list[dict[str, Any]]
) -> str:
    """Find or create each recorded group (see the module's text); what was done, in one sentence."""
    recorded: dict[str, dict[str, Any]] = {}
    for definition in definitions:
        for group in definition.get("security_groups") or []:
            recorded.setdefault(group["id"], group)
    if not recorded:
        return "The snapshot records no security group: nothing to restore"
    names = {g["id"]: g.get("name") or "" for g in recorded.values()}
    existing = neutron.security_groups(frozenset(n for n in names.values() if n), project_id)
    existing_names = {g["id"]: g.get("name") or "" for g in existing}
    ids: dict[str, str] = {}
    made: list[dict[str, Any]] = []
    completed: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (recorded, the project's default)
    said = []
    for group in recorded.values():
        wanted = _rules(group, names)
        same = next(
            (
                g
                for g in existing
                if g.get("name") == group.get("name") and _rules(g, existing_names) == wanted
            ),
            None,
        )
        if same is not None:
            ids[group["id"]] = same["id"]
            said.append(f"{group.get('name')} reused ({same['id']})")
            continue
        default = next((g for g in existing if g.get("name") == "default"), None)
        if group.get("name") == "default" and default is not None:
            # Neutron keeps one default group per project: it gets the recorded rules it lacks.
            ids[group["id"]] = default["id"]
            completed.append((group, default))
            said.append(f"default reused ({default['id']}, missing rules added)")
            continue
        new_id = neutron.create_security_group(group.get("name") or "", group.get("description") or "")
        ledger.add("security_group", new_id)
        ids[group["id"]] = new_id
        made.append(group)
        said.append(f"{group.get('name')} created ({new_id})")
    for group in made:
        for rule in group.get("security_group_rules") or []:
            values = rule_for(rule, ids)
            if values is None:
                LOG.warning(
                    "security-groups restore: rule %s of group %s refers to group %s, which is not in the "
                    "snapshot", rule.get("id"), group.get("name"), rule.get("remote_group_id"),
                )  # fmt: skip
                continue
            neutron.add_security_group_rule(ids[group["id"]], values)
    for group, default in completed:
        present = set(_rules(default, existing_names))
        for rule in group.get("security_group_rules") or []:
            values = rule_for(rule, ids)
            if values is not None and _rule_key(rule, group["id"], names) not in present:
                neutron.add_security_group_rule(default["id"], values)
    LOG.info("security-groups restore: %s", "; ".join(said))
    return f"Restored {len(recorded)} security group(s): {'; '.join(said)}"
