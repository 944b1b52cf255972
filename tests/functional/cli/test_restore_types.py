"""Trilio's restores without VMs from both CLIs against a real all-in-one API: ``workloadmgr
restore-network-topology|restore-security-groups`` and ``openstack workload restore
network-topology|security-groups`` (and ``restore create --type``)."""

from __future__ import annotations

from tests.functional.cli.conftest import Cli

WAIT = ("--wait", "--poll-interval", "0.2")


def test_network_topology_and_security_groups_restores(cli: Cli) -> None:
    vms = cli.cp.add_servers(cli.project, 1)
    cli.json("workload", "create", "--name", "nets", "--instance", f"instance-id={vms[0]}")
    snap = cli.json("workload", "snapshot", "nets", "--full", "--name", "netsnap", *WAIT)
    assert snap["status"] == "available"

    made = cli.json(
        "restore-network-topology", "--display-name", "topo", snap["id"], *WAIT, tool="workloadmgr"
    )
    assert made["restore_type"] == "network-topology" and made["status"] == "available"
    assert made["instances"] == [] and made["name"] == "topo"
    assert made["restore_options"]["type"] == "openstack"
    assert made["restore_options"]["restore_type"] == "network-topology"
    made = cli.json("restore-security-groups", snap["id"], *WAIT, tool="workloadmgr")
    assert made["restore_type"] == "security-groups" and made["instances"] == []

    made = cli.json("workload", "restore", "network-topology", "netsnap", *WAIT)
    assert made["restore_type"] == "network-topology" and made["status"] == "available"
    made = cli.json("workload", "restore", "security-groups", "netsnap", "--name", "groups", *WAIT)
    assert made["restore_type"] == "security-groups" and made["name"] == "groups"
    made = cli.json("workload", "restore", "create", "netsnap", "--type", "security-groups", *WAIT)
    assert made["restore_type"] == "security-groups" and made["restore_options"]["oneclickrestore"] is False
    # Instances make no sense here: the command has no flags for them.
    assert "unrecognized arguments" in cli.fails(
        "workload", "restore", "network-topology", "netsnap", "--instance", vms[0]
    )
