"""The cloud layer's calls that capture what re-creating a server takes, and that re-create it: flavors,
boot volumes, security groups, image properties, the boot source (openstacksdk's proxies mocked)."""

from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

import pytest
from openstack import exceptions as sdk_exc

from t4o.openstack import definitions, glance, neutron, nova
from t4o.openstack.cinder import BlockStorage


def test_a_server_boots_from_a_volume_with_boot_index_0_and_its_groups_by_name_or_id() -> None:
    conn = mock.Mock()
    conn.compute.create_server.return_value = SimpleNamespace(id="new")
    compute = nova.Compute(conn)
    assert compute.create_server("web", "f1", None, boot_volume_id="v1", security_groups=["g1"]) == "new"
    conn.compute.create_server.assert_called_once_with(
        name="web",
        flavor_id="f1",
        networks="none",
        security_groups=[{"name": "g1"}],
        block_device_mapping=[
            {"boot_index": 0, "uuid": "v1", "source_type": "volume", "destination_type": "volume",
             "delete_on_termination": False}
        ],
    )  # fmt: skip
    with pytest.raises(ValueError, match="needs an image or a boot volume"):
        compute.create_server("web", "f1", None)


def test_a_recreated_flavor_is_private_and_given_to_the_project_and_removed_if_that_fails() -> None:
    conn = mock.Mock()
    made = SimpleNamespace(id="f9", name="small-restored", vcpus=2, ram=512, disk=5, ephemeral=0, swap="")
    conn.compute.create_flavor.return_value = made
    sizes = {"vcpus": 2, "ram": 512, "disk": 5, "ephemeral": 0, "swap": 0}
    info = nova.Compute(conn).create_flavor("small-restored", sizes, {"hw:a": "b"}, "proj")
    assert info == nova.FlavorInfo("f9", "small-restored", 2, 512, 5, 0, 0)
    conn.compute.create_flavor.assert_called_once_with(name="small-restored", is_public=False, **sizes)
    conn.compute.flavor_add_tenant_access.assert_called_once_with(made, "proj")
    conn.compute.create_flavor_extra_specs.assert_called_once_with(made, {"hw:a": "b"})
    conn.compute.flavor_add_tenant_access.side_effect = RuntimeError("403")
    with pytest.raises(RuntimeError):
        nova.Compute(conn).create_flavor("small-restored", sizes, {}, "proj")
    conn.compute.delete_flavor.assert_called_once_with("f9", ignore_missing=True)


def test_a_restored_boot_volume_is_bootable_with_the_images_guest_properties() -> None:
    conn = mock.Mock()
    BlockStorage(conn).make_bootable("v1", {"hw_disk_bus": "virtio"})
    conn.block_storage.set_volume_bootable_status.assert_called_once_with("v1", True)
    conn.block_storage.set_volume_image_metadata.assert_called_once_with("v1", hw_disk_bus="virtio")


def test_guest_properties_are_the_images_hw_and_os_properties_as_strings() -> None:
    image = {"name": "i", "hw_qemu_guest_agent": True, "os_distro": "cirros", "os_hash_value": None,
             "properties": {"hw_machine_type": "q35", "owner_specified.x": "y"}}  # fmt: skip
    assert glance.guest_properties(image) == {
        "hw_qemu_guest_agent": "true",
        "os_distro": "cirros",
        "hw_machine_type": "q35",
    }


def test_a_recreated_group_loses_neutrons_automatic_rules() -> None:
    conn = mock.Mock()
    conn.network.create_security_group.return_value = SimpleNamespace(id="g1")
    auto = [SimpleNamespace(id="r1"), SimpleNamespace(id="r2")]
    conn.network.security_group_rules.return_value = auto
    assert neutron.Networking(conn).create_security_group("web", "d") == "g1"
    assert [c.args[0] for c in conn.network.delete_security_group_rule.call_args_list] == auto


def test_a_group_is_found_by_id_before_name() -> None:
    conn = mock.Mock()
    conn.network.security_groups.return_value = [
        SimpleNamespace(id="a", name="web"),
        SimpleNamespace(id="web", name="other"),
    ]
    net = neutron.Networking(conn)
    assert net.security_group_id("web", "p") == "web"
    assert net.security_group_id("other", "p") == "web"
    assert net.security_group_id("none", "p") is None


def test_the_boot_source_is_the_image_or_the_volume_attached_first() -> None:
    vols = [{"id": "data", "target": "vdb"}, {"id": "root", "target": "vda"}]
    assert definitions.boot_source("img", vols) == {"source": "image", "image_id": "img"}
    assert definitions.boot_source(None, vols) == {"source": "volume", "volume_id": "root"}
    assert definitions.boot_source("", []) == {"source": "volume", "volume_id": None}


def test_a_volume_type_exists_when_cinder_finds_it() -> None:
    conn = mock.Mock()
    conn.block_storage.find_type.side_effect = [SimpleNamespace(id="t"), sdk_exc.NotFoundException()]
    assert BlockStorage(conn).volume_type_exists("fast") is True
    assert BlockStorage(conn).volume_type_exists("gone") is False
