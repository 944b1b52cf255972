"""A selective restore's choices in the restore flow: a volume left out is not created, a new volume type
and name are used, each port goes on the target network its VM's ``nics`` give; restored servers and
volumes are named after their originals and the snapshot and carry where they came from in their
metadata. The cloud layer is mocked (Neutron faked in memory), the datamover left out."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from openstack.exceptions import ForbiddenException

from t4o.common import errors
from t4o.openstack.cloud import RestoreTargets
from t4o.openstack.neutron import NetworkRef, SubnetRef
from t4o.openstack.nova import Attachment, FlavorInfo, NovaCloud
from t4o.workloads.flows import config, selection
from t4o.workloads.flows import restore as flow
from t4o.workloads.flows.ledger import Ledger
from t4o.workloads.flows.prerequisites import Prerequisites
from tests.unit.flows.test_restore_ports import FakeNeutron

GiB = 1 << 30
SNAP = SimpleNamespace(id="5a1b2c3d-0000-4000-8000-000000000000", name="nightly",
                       created_at=dt.datetime(2026, 12, 7, 3, 0))  # fmt: skip
PORTS = [
    {"id": "p1", "network_id": "n1", "mac_address": "fa:16:3e:00:00:01", "created_at": "1",
     "fixed_ips": [{"subnet_id": "s1", "ip_address": "10.0.0.5"}]},
    {"id": "p2", "network_id": "n1", "mac_address": "fa:16:3e:00:00:02", "created_at": "2", "fixed_ips": []},
]  # fmt: skip
TOPOLOGY = {"networks": [{"id": "n1", "name": "private"}],
            "subnets": [{"id": "s1", "network_id": "n1", "cidr": "10.0.0.0/24"}], "routers": []}  # fmt: skip


def web() -> Any:
    definition = {
        "server": {"name": "web", "image_id": "img", "metadata": {"role": "front"}},
        "flavor": {"id": "f-old", "name": "small", "vcpus": 1, "ram": 128, "disk": 1},
        "keypair": None,
        "security_groups": [],
        "ports": PORTS,
        "topology": TOPOLOGY,
        "volumes": [
            {"id": "v-data", "name": "ux-data-1", "size": 1, "volume_type": "slow", "target": "vdb"},
            {"id": "v-logs", "name": "ux-logs-1", "size": 1, "volume_type": "slow", "target": "vdc"},
        ],
    }
    disks = [
        {"ref": "r-root", "target": "vda", "size": GiB, "volume_id": None},
        {"ref": "r-data", "target": "vdb", "size": GiB, "volume_id": "v-data"},
        {"ref": "r-logs", "target": "vdc", "size": GiB, "volume_id": "v-logs"},
    ]
    return SimpleNamespace(vm_id="vm-web", vm_name="web", definition=definition, disks=disks)


@pytest.fixture
def cloud(t4o_conf: Any, monkeypatch: pytest.MonkeyPatch, agent_writes: None) -> Any:
    config.ensure_registered(t4o_conf)
    c = mock.Mock()
    c.glance.exists.return_value = True
    c.nova.flavor.return_value = FlavorInfo("f-old", "small", 1, 128, 1)
    c.nova.create_server.return_value = "srv"
    c.cinder.create_volume.side_effect = ["new-1", "new-2"]
    c.cinder.volume_type_exists.return_value = True
    c.nova.attach_volume.side_effect = lambda sid, vid: Attachment(vid, "/dev/vdb")
    neutron = FakeNeutron()
    neutron.find_network = lambda ref: NetworkRef(ref, f"net-{ref}")  # type: ignore[attr-defined]
    neutron.subnets_of = lambda net: [SubnetRef(f"{net}-sub", "10.0.0.0/24")]  # type: ignore[attr-defined]
    c.neutron = neutron
    return c


def new_vm(cloud: Any, opts: dict[str, Any], networks: dict[str, Any] | None = None) -> dict[str, Any]:
    ledger = Ledger(cloud)
    origin = flow.Origin(SNAP, "rst-1")
    dm = mock.Mock()  # the datamover: its transfers are _write_disks, faked above
    return flow._new_vm(cloud, dm, ledger, Prerequisites(ledger, "p"), web(), opts, {}, networks or {},  # type: ignore[arg-type]
                        lambda f, m: None, [], origin)  # fmt: skip


def test_restored_server_and_volumes_say_where_they_came_from(cloud: Any) -> None:
    out = new_vm(cloud, {"nics": [{"network": {"id": "t1"}}, {"network": {"id": "t1"}}]})
    args, kwargs = cloud.nova.create_server.call_args
    assert args[0] == out["name"] == "web (restored nightly 2026-12-07)"
    assert kwargs["metadata"] == {
        "role": "front",
        "t4o_original_name": "web",
        "t4o_original_id": "vm-web",
        "t4o_snapshot_id": SNAP.id,
        "t4o_restore_id": "rst-1",
    }
    first = cloud.cinder.create_volume.call_args_list[0].kwargs
    assert first["name"] == "ux-data-1 (restored nightly 2026-12-07)"
    assert first["metadata"] == {
        "t4o_original_name": "ux-data-1",
        "t4o_original_id": "v-data",
        "t4o_snapshot_id": SNAP.id,
        "t4o_restore_id": "rst-1",
    }


def test_a_volume_left_out_is_not_created_and_another_is_retyped_and_renamed(cloud: Any) -> None:
    opts = {
        "name": "web-copy",
        "nics": [{"id": "p1", "network": {"id": "t1"}}, {"id": "p2", "network": {"id": "t1"}}],
        "vdisks": [{"id": "v-data", "include": False}, {"id": "v-logs", "new_volume_type": "fast",
                                                         "name": "logs-copy"}],
    }  # fmt: skip
    out = new_vm(cloud, opts)
    assert cloud.nova.create_server.call_args.args[0] == "web-copy"
    cloud.cinder.create_volume.assert_called_once()
    kwargs = cloud.cinder.create_volume.call_args.kwargs
    assert kwargs["name"] == "logs-copy" and kwargs["volume_type"] == "fast"
    assert out["volumes_left_out"] == ["v-data"]
    assert [(v["source_volume_id"], v["name"], v["volume_type"]) for v in out["volumes"]] == [
        ("v-logs", "logs-copy", "fast")
    ]
    cloud.nova.attach_volume.assert_called_once_with("srv", "new-1")


def test_a_volume_is_created_in_the_cinder_zone_its_options_name(cloud: Any) -> None:
    nics = [{"network": {"id": "t1"}}, {"network": {"id": "t1"}}]
    new_vm(cloud, {"nics": nics, "vdisks": [{"id": "v-logs", "availability_zone": "az-2"}]})
    zones = {
        c.kwargs["name"]: c.kwargs.get("availability_zone") for c in cloud.cinder.create_volume.call_args_list
    }
    assert zones == {  # the other volume: Cinder's default zone, as before
        "ux-data-1 (restored nightly 2026-12-07)": None,
        "ux-logs-1 (restored nightly 2026-12-07)": "az-2",
    }


def test_each_port_goes_on_the_network_its_vms_nics_give_it(cloud: Any) -> None:
    # p1 by MAC onto t1 (with its subnet of the same CIDR: the IP is kept), p2 by the global mapping.
    mapped = {"n1": {"id": "t9", "name": "nine", "action": "mapped", "subnets": {}}}
    out = new_vm(cloud, {"nics": [{"mac_address": "fa:16:3e:00:00:01", "network": {"id": "t1"}}]}, mapped)
    assert [(p["network_id"], p["source_port_id"]) for p in out["ports"]] == [("t1", "p1"), ("t9", "p2")]
    network, values = cloud.neutron.created[0]
    assert network == "t1" and values["fixed_ips"] == [{"subnet_id": "t1-sub", "ip_address": "10.0.0.5"}]


def test_leaving_out_the_boot_volume_is_refused() -> None:
    vm = SimpleNamespace(
        vm_id="vm1", vm_name="db", disks=[{"ref": "r", "target": "vda", "volume_id": "root"}],
        definition={"server": {"name": "db"}, "boot": {"source": "volume", "volume_id": "root"}},
    )  # fmt: skip
    options = {"openstack": {"instances": [{"id": "vm1", "vdisks": [{"id": "root", "include": False}]}]}}
    with pytest.raises(
        errors.BadRequest, match=r"instances\[0\]\.vdisks\[0\]\.include: volume root is the disk"
    ):
        selection.check(options, [vm])
    options["openstack"]["instances"][0]["vdisks"][0] = {"id": "root", "restore_cinder_volume": False}
    with pytest.raises(errors.BadRequest, match="boots from"):
        selection.check(options, [vm])


def test_check_returns_what_the_cloud_must_have_with_the_field_of_each() -> None:
    nic = {"id": "p2", "network": {"id": "t1", "subnet": {"id": "x"}}}
    options = {"openstack": {"instances": [{"id": "vm-web", "flavor": {"id": "m1"},
                                            "vdisks": [{"id": "v-data", "new_volume_type": "fast"}],
                                            "nics": [nic]}],
               "networks_mapping": {"networks": [{"snapshot_network": {"id": "n1"},
                                                  "target_network": {"id": "t2"}}]}}}  # fmt: skip
    targets, where = selection.check(options, [web()])
    assert targets == RestoreTargets(
        frozenset({"m1"}), frozenset({"fast"}), frozenset({"t1", "t2"}), frozenset({("t1", "x")})
    )
    with pytest.raises(errors.BadRequest) as caught:
        selection.refuse_missing(RestoreTargets(subnets=frozenset({("t1", "x")})), where)
    assert str(caught.value) == (
        "options.openstack.instances[0].nics[0].network.subnet.id: subnet x does not exist on network t1"
    )


def test_a_cinder_zone_the_cloud_lacks_is_refused_naming_the_field() -> None:
    vdisks = [{"id": "v-data", "include": False, "availability_zone": "ignored"},
              {"id": "v-logs", "availability_zone": "mars"}]  # fmt: skip
    options = {"openstack": {"instances": [{"id": "vm-web", "vdisks": vdisks}]}}
    targets, where = selection.check(options, [web()])
    assert targets == RestoreTargets(volume_zones=frozenset({"mars"}))  # a volume left out needs no zone
    with pytest.raises(errors.BadRequest) as caught:
        selection.refuse_missing(RestoreTargets(volume_zones=frozenset({"mars"})), where)
    assert str(caught.value) == (
        "options.openstack.instances[0].vdisks[1].availability_zone: Cinder has no availability zone mars "
        "for new volumes"
    )


def test_restored_names_cite_the_snapshot_and_fit_the_limit() -> None:
    unnamed = SimpleNamespace(id="abcdef012345", name="", created_at=None)
    assert selection.restored_name("web", unnamed) == "web (restored abcdef01)"
    long = selection.restored_name("x" * 300, SNAP)
    assert len(long) == 255 and long.endswith(" (restored nightly 2026-12-07)")


def test_nova_cloud_looks_targets_up_with_the_callers_token(monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = [{"type": t, "endpoints": [{"interface": "public", "url": f"http://{t}"}]}
               for t in ("compute", "volumev3", "network")]  # fmt: skip
    ctx = SimpleNamespace(service_catalog=catalog, auth_token="tok")
    conn = mock.Mock()
    flavor = SimpleNamespace(id="m1", name="m1", vcpus=1, ram=64, disk=1, ephemeral=0, swap=0)
    conn.compute.find_flavor.side_effect = lambda ref, **k: None if ref == "huge" else flavor
    conn.block_storage.find_type.side_effect = lambda ref, **k: None if ref == "gold" else mock.Mock()
    conn.network.find_network.side_effect = lambda ref, **k: (
        None if ref == "gone" else SimpleNamespace(id=ref, name="")
    )
    conn.network.subnets.return_value = [SimpleNamespace(id="s1", cidr="10.0.0.0/24")]
    conn.block_storage.availability_zones.return_value = [
        SimpleNamespace(name="nova", state={"available": True}),
        SimpleNamespace(name="down", state={"available": False}),
    ]
    urls: list[str] = []
    monkeypatch.setattr("openstack.connection.Connection", lambda session, region_name: conn)
    monkeypatch.setattr("keystoneauth1.token_endpoint.Token", lambda url, tok: urls.append(url))
    wanted = RestoreTargets(frozenset({"m1", "huge"}), frozenset({"fast", "gold"}),
                            frozenset({"t1", "gone"}), frozenset({("t1", "s1"), ("t1", "s9")}),
                            frozenset({"nova", "down", "mars"}))  # fmt: skip
    missing = NovaCloud("public", None).missing_targets(ctx, wanted)  # type: ignore[arg-type]
    assert missing == RestoreTargets(
        frozenset({"huge"}), frozenset({"gold"}), frozenset({"gone"}), frozenset({("t1", "s9")}),
        frozenset({"down", "mars"}),  # a zone Cinder lists as not available takes no new volume either
    )  # fmt: skip
    assert urls == ["http://compute", "http://volumev3", "http://network"]
    # Zones that Cinder's policy does not let the caller list are not checked (the restore checks them).
    conn.block_storage.availability_zones.side_effect = ForbiddenException("policy")
    zones_only = RestoreTargets(volume_zones=frozenset({"mars"}))
    assert NovaCloud("public", None).missing_targets(ctx, zones_only) == RestoreTargets()  # type: ignore[arg-type]
    # A catalog without a service leaves its names unchecked (the workflow checks them).
    bare = SimpleNamespace(service_catalog=[], auth_token="tok")
    assert NovaCloud("public", None).missing_targets(bare, wanted) == RestoreTargets()  # type: ignore[arg-type]


def test_network_mapping_entries_of_any_shape_are_no_server_error() -> None:
    options = {"openstack": {"networks_mapping": {"networks": ["x", {"target_network": "y"}, {}]}}}
    assert selection.check(options, []) == (RestoreTargets(), {})
