"""What a restored server needs when the originals are gone: the flavor (kept, matched or re-created),
the keypair (re-imported), the security groups (re-created with their rules, a remote group mapped) and
the root disk's boot source; the cloud layer is mocked."""

from __future__ import annotations

from unittest import mock

import pytest

from t4o.common import errors
from t4o.openstack.nova import FlavorInfo
from t4o.workloads.flows import prerequisites as pre
from t4o.workloads.flows.ledger import Ledger

RECORDED = {"id": "f-old", "name": "small", "vcpus": 2, "ram": 512, "disk": 5, "ephemeral": 0, "swap": 0,
            "extra_specs": {"hw:cpu_policy": "shared"}}  # fmt: skip
SIZES = {"vcpus": 2, "ram": 512, "disk": 5, "ephemeral": 0, "swap": 0}


def setup(flavors: list[FlavorInfo] | None = None) -> tuple[pre.Prerequisites, mock.Mock]:
    cloud = mock.Mock()
    cloud.nova.flavor.return_value = None  # the recorded flavor is gone
    cloud.nova.flavors.return_value = flavors or []
    cloud.nova.create_flavor.return_value = FlavorInfo("f-new", "small-restored", 2, 512, 5)
    return pre.Prerequisites(Ledger(cloud), "proj"), cloud


def test_the_original_flavor_is_used_while_it_exists() -> None:
    needs, cloud = setup()
    cloud.nova.flavor.return_value = FlavorInfo("f-old", "small", 2, 512, 5)
    log: list[dict] = []
    assert needs.flavor(cloud, RECORDED, None, log) == "f-old"
    cloud.nova.create_flavor.assert_not_called()
    assert log == [] and needs.ledger.items == []
    assert needs.flavor(cloud, RECORDED, None, log) == "f-old"  # another VM of the restore: not asked again
    cloud.nova.flavor.assert_called_once()


def test_a_gone_flavor_is_replaced_by_one_of_the_same_sizes_the_original_name_first() -> None:
    same = [FlavorInfo("a", "other", 2, 512, 5), FlavorInfo("b", "small", 2, 512, 5)]
    needs, cloud = setup([FlavorInfo("x", "small", 2, 512, 6), *same])
    assert needs.flavor(cloud, RECORDED, None, []) == "b"
    assert pre.matching_flavor(same[:1], SIZES, "small") == same[0]
    assert pre.matching_flavor(same, {**SIZES, "swap": 512}, "small") is None
    cloud.nova.create_flavor.assert_not_called()


def test_a_gone_flavor_without_a_match_is_recreated_privately_once_and_recorded() -> None:
    needs, cloud = setup([FlavorInfo("x", "small", 2, 512, 6)])
    log: list[dict] = []
    assert needs.flavor(cloud, RECORDED, None, log) == "f-new"
    assert needs.flavor(cloud, RECORDED, None, []) == "f-new"  # a second VM of the restore reuses it
    cloud.nova.create_flavor.assert_called_once_with(
        "small-restored", SIZES, {"hw:cpu_policy": "shared"}, "proj"
    )
    assert log == [{"kind": "flavor", "id": "f-new", "name": "small-restored"}]
    assert needs.ledger.items == [("flavor", "f-new")]


def test_trilio_flavor_sizes_of_a_selective_restore_replace_the_recorded_ones() -> None:
    needs, cloud = setup([FlavorInfo("big", "large", 4, 512, 5)])
    cloud.nova.flavor.return_value = FlavorInfo("f-old", "small", 2, 512, 5)  # exists, but not wanted
    assert needs.flavor(cloud, RECORDED, {"vcpus": 4}, []) == "big"
    assert pre.wanted_sizes(RECORDED, {"ram": 1024, "swap": 0}) == {**SIZES, "ram": 1024}


def test_flavor_errors_say_what_is_wrong() -> None:
    needs, cloud = setup()
    with pytest.raises(errors.BadRequest, match="flavor nope does not exist"):
        needs.flavor(cloud, RECORDED, {"id": "nope"}, [])
    with pytest.raises(errors.BadRequest, match="no vcpus and ram"):
        pre.wanted_sizes({"name": "old"}, None)
    cloud.nova.create_flavor.side_effect = RuntimeError("403 policy does not allow")
    with pytest.raises(errors.BadRequest, match=r"creating one failed .*403"):
        needs.flavor(cloud, RECORDED, None, [])
    assert needs.ledger.items == []


def test_a_missing_keypair_is_reimported_from_its_public_key() -> None:
    needs, cloud = setup()
    cloud.nova.keypair_exists.return_value = False
    log: list[dict] = []
    assert needs.keypair(cloud, {"name": "k", "public_key": "ssh-ed25519 AAA"}, log) == "k"
    assert needs.keypair(cloud, {"name": "k", "public_key": "ssh-ed25519 AAA"}, []) == "k"
    cloud.nova.create_keypair.assert_called_once_with("k", "ssh-ed25519 AAA")
    assert log == [{"kind": "keypair", "id": "k", "name": "k"}] and needs.ledger.items == [("keypair", "k")]
    assert needs.keypair(cloud, None, []) is None
    assert needs.keypair(cloud, {"name": "nokey"}, []) is None  # gone and nothing to re-import


def test_an_existing_keypair_is_used_as_is() -> None:
    needs, cloud = setup()
    cloud.nova.keypair_exists.return_value = True
    assert needs.keypair(cloud, {"name": "k", "public_key": "x"}, []) == "k"
    cloud.nova.create_keypair.assert_not_called()


GROUPS = [
    {"id": "g-web", "name": "web", "description": "d", "security_group_rules": [
        {"id": "r1", "direction": "ingress", "ether_type": "IPv4", "protocol": "tcp", "port_range_min": 22,
         "port_range_max": 22, "remote_ip_prefix": "10.0.0.0/8", "remote_group_id": None, "description": ""},
        {"id": "r2", "direction": "ingress", "ether_type": "IPv4", "protocol": "tcp", "port_range_min": 80,
         "port_range_max": 80, "remote_ip_prefix": None, "remote_group_id": "g-web"},
        {"id": "r3", "direction": "ingress", "ethertype": "IPv4", "protocol": None,
         "remote_group_id": "g-unknown"},
        {"id": "r4", "direction": "egress", "ethertype": "IPv6", "protocol": None, "remote_ip_prefix": None},
    ]},
    {"id": "g-def", "name": "default", "security_group_rules": []},
]  # fmt: skip


def test_missing_groups_are_recreated_with_their_rules_and_a_remote_group_maps_to_the_new_group() -> None:
    needs, cloud = setup()
    cloud.neutron.security_group_id.side_effect = lambda key, project: "g-def2" if key == "default" else None
    cloud.neutron.create_security_group.return_value = "g-new"
    log: list[dict] = []
    assert needs.security_groups(cloud, GROUPS, log) == ["g-new", "g-def2"]
    cloud.neutron.create_security_group.assert_called_once_with("web", "d")
    added = [c.args for c in cloud.neutron.add_security_group_rule.call_args_list]
    assert added == [
        ("g-new", {"direction": "ingress", "ether_type": "IPv4", "protocol": "tcp", "port_range_min": 22,
                   "port_range_max": 22, "remote_ip_prefix": "10.0.0.0/8"}),
        ("g-new", {"direction": "ingress", "ether_type": "IPv4", "protocol": "tcp", "port_range_min": 80,
                   "port_range_max": 80, "remote_group_id": "g-new"}),
        ("g-new", {"direction": "egress", "ether_type": "IPv6"}),
    ]  # fmt: skip
    assert log == [{"kind": "security_group", "id": "g-new", "name": "web"}]
    assert needs.ledger.items == [("security_group", "g-new")]
    # a second VM with the same groups reuses them
    assert needs.security_groups(cloud, GROUPS, []) == ["g-new", "g-def2"]
    assert cloud.neutron.create_security_group.call_count == 1


def test_groups_found_by_id_or_name_are_not_touched() -> None:
    needs, cloud = setup()
    cloud.neutron.security_group_id.side_effect = lambda key, project: {"g-web": "g-web", "default": "d"}.get(
        key
    )
    assert needs.security_groups(cloud, GROUPS, []) == ["g-web", "d"]
    cloud.neutron.create_security_group.assert_not_called()
    cloud.neutron.add_security_group_rule.assert_not_called()


def test_boot_source_of_new_and_old_records() -> None:
    assert pre.boot_of({"boot": {"source": "volume", "volume_id": "v"}}) == {
        "source": "volume",
        "volume_id": "v",
    }
    assert pre.boot_of({"server": {"image_id": "img"}}) == {"source": "image", "image_id": "img"}
    old_bfv = {
        "server": {"image_id": ""},
        "volumes": [{"id": "data", "target": "vdb"}, {"id": "root", "target": "vda"}],
    }
    assert pre.boot_of(old_bfv) == {"source": "volume", "volume_id": "root"}


def test_the_root_disk_is_the_boot_volumes_or_the_first_instance_disk() -> None:
    disks = [
        {"ref": "eph", "target": "vdb", "volume_id": None},
        {"ref": "root", "target": "vda", "volume_id": None},
        {"ref": "vol", "target": "vdc", "volume_id": "v1"},
    ]
    assert pre.root_disk(disks, {"source": "image"})["ref"] == "root"
    assert pre.root_disk(disks, {"source": "volume", "volume_id": "v1"})["ref"] == "vol"
    assert pre.root_disk(disks, {"source": "volume", "volume_id": None}) is None


def test_a_root_volume_is_at_least_the_disk_the_recorded_volume_and_the_flavors_root() -> None:
    disk = {"size": 1 << 30, "volume_id": None}
    assert pre.root_volume_size(disk, {"flavor": {"disk": 0}}) == 1
    assert pre.root_volume_size({**disk, "size": (1 << 30) + 1}, {}) == 2
    assert pre.root_volume_size(disk, {"flavor": {"disk": 5}}) == 5
    assert pre.root_volume_size({**disk, "volume_id": "v"}, {"volumes": [{"id": "v", "size": 3}]}) == 3


def test_a_rule_to_a_group_that_is_not_restored_is_left_out() -> None:
    assert pre.rule_for({"direction": "ingress", "remote_group_id": "x"}, {}) is None
    assert pre.rule_for({"direction": "ingress", "remote_group_id": "x"}, {"x": "y"}) == {
        "direction": "ingress",
        "remote_group_id": "y",
    }


def test_the_vms_of_a_restore_ask_glance_once_for_their_image() -> None:
    needs, cloud = setup()
    cloud.glance.exists.side_effect = lambda image_id: image_id == "img"
    assert needs.image_exists(cloud, "img") is True and needs.image_exists(cloud, "img") is True
    assert needs.image_exists(cloud, "gone") is False
    assert cloud.glance.exists.call_count == 2
