"""A restored VM's NICs and server group: a port per recorded port on its mapped network, the original
fixed IPs and MAC kept where they are free, the restored security groups and address pairs, the server
created on the ports in NIC order and in its (re-created once) server group; the cloud layer is a fake
of the Neutron and Nova wrappers (in memory), the datamover is left out."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest

from t4o.common import errors
from t4o.openstack.neutron import AddressRefused
from t4o.openstack.nova import Attachment, FlavorInfo
from t4o.workloads.flows import config, ports
from t4o.workloads.flows import restore as flow
from t4o.workloads.flows.ledger import Ledger
from t4o.workloads.flows.prerequisites import Prerequisites


class FakeNeutron:
    """The Networking calls a restore's ports make, over in-memory ports: (network, ip, mac) taken."""

    def __init__(self) -> None:
        self.taken_ips: set[tuple[str, str]] = set()
        self.taken_macs: set[tuple[str, str]] = set()
        self.refuse_next = False  # Neutron's 409 for an address taken between the check and the create
        self.not_owner = False  # Neutron's 403: addresses and address pairs are the network owner's to set
        self.created: list[tuple[str, dict[str, Any]]] = []
        self.deleted: list[str] = []

    def ip_in_use(self, network_id: str, ip: str) -> bool:
        return (network_id, ip) in self.taken_ips

    def mac_in_use(self, network_id: str, mac: str) -> bool:
        return (network_id, mac) in self.taken_macs

    def create_port(self, network_id: str, **values: Any) -> dict[str, Any]:
        values = {k: v for k, v in values.items() if v is not None}
        wants_address = values.get("mac_address") or any(
            "ip_address" in ip for ip in values.get("fixed_ips") or []
        )
        if self.refuse_next and wants_address:
            self.refuse_next = False
            raise AddressRefused("IP address 10.0.0.5 already allocated")
        if self.not_owner and (wants_address or values.get("allowed_address_pairs")):
            raise AddressRefused("rule:create_port:mac_address is disallowed by policy")
        n = len(self.created) + 1
        self.created.append((network_id, values))
        ips = [
            {"subnet_id": ip["subnet_id"], "ip_address": ip.get("ip_address") or f"10.0.0.{100 + n}"}
            for ip in values.get("fixed_ips") or [{"subnet_id": "auto"}]
        ]
        return {
            "id": f"port-{n}",
            "network_id": network_id,
            "fixed_ips": ips,
            "mac_address": values.get("mac_address") or f"fa:16:3e:00:00:{n:02x}",
        }

    def delete_port(self, port_id: str) -> None:
        self.deleted.append(port_id)


NET = {"id": "tgt-net", "name": "private", "action": "created", "subnets": {"src-sub": "tgt-sub"}}
PORT = {
    "id": "src-port",
    "network_id": "src-net",
    "fixed_ips": [{"subnet_id": "src-sub", "ip_address": "10.0.0.5"}],
    "mac_address": "fa:16:3e:aa:bb:cc",
    "security_group_ids": ["src-sg"],
    "allowed_address_pairs": [
        {"ip_address": "10.0.0.200", "mac_address": "fa:16:3e:aa:bb:cc"},  # the port's own MAC
        {"ip_address": "10.0.0.201", "mac_address": "fa:16:3e:00:00:77"},
    ],
    "is_port_security_enabled": True,
    "name": "web-eth0",
}
GROUPS = {"src-sg": "new-sg"}.get


def make(neutron: FakeNeutron, records: list[dict[str, Any]], networks: dict[str, Any] | None = None):
    ledger, warnings = Ledger(mock.Mock()), []
    out = ports.create(
        neutron,
        ledger,
        "VM web",
        records,
        {"src-net": NET} if networks is None else networks,
        GROUPS,
        warnings,  # type: ignore[arg-type]
    )
    return out, ledger, warnings


def test_a_port_keeps_its_ip_and_mac_when_free_with_its_groups_and_address_pairs() -> None:
    neutron = FakeNeutron()
    out, ledger, warnings = make(neutron, [PORT])
    assert neutron.created == [
        (
            "tgt-net",
            {
                "name": "web-eth0",
                "fixed_ips": [{"subnet_id": "tgt-sub", "ip_address": "10.0.0.5"}],
                "mac_address": "fa:16:3e:aa:bb:cc",
                "security_groups": ["new-sg"],
                "allowed_address_pairs": [
                    {"ip_address": "10.0.0.200"},
                    {"ip_address": "10.0.0.201", "mac_address": "fa:16:3e:00:00:77"},
                ],
            },
        )
    ]
    assert out == [
        {
            "id": "port-1",
            "network_id": "tgt-net",
            "network_name": "private",
            "fixed_ips": [{"subnet_id": "tgt-sub", "ip_address": "10.0.0.5"}],
            "mac_address": "fa:16:3e:aa:bb:cc",
            "ip_kept": True,
            "mac_kept": True,
            "source_port_id": "src-port",
            "source_fixed_ips": PORT["fixed_ips"],
            "source_mac_address": "fa:16:3e:aa:bb:cc",
        }
    ]
    assert ledger.items == [("port", "port-1")] and warnings == []


def test_a_taken_ip_or_mac_falls_back_to_neutrons_choice_with_a_warning(caplog: Any) -> None:
    neutron = FakeNeutron()
    neutron.taken_ips.add(("tgt-net", "10.0.0.5"))
    neutron.taken_macs.add(("tgt-net", "fa:16:3e:aa:bb:cc"))
    out, _, warnings = make(neutron, [PORT])
    values = neutron.created[0][1]
    assert values["fixed_ips"] == [{"subnet_id": "tgt-sub"}] and "mac_address" not in values
    assert out[0]["ip_kept"] is False and out[0]["mac_kept"] is False
    assert out[0]["fixed_ips"][0]["ip_address"] != "10.0.0.5"
    assert (
        len(warnings) == 1
        and "IP 10.0.0.5 is taken" in warnings[0]
        and "MAC fa:16:3e:aa:bb:cc" in warnings[0]
    )
    assert "differs from its record" in caplog.text


def test_an_address_refused_at_create_time_is_retried_without_it() -> None:
    neutron = FakeNeutron()
    neutron.refuse_next = True
    out, ledger, warnings = make(neutron, [PORT])
    assert neutron.created[0][1]["fixed_ips"] == [{"subnet_id": "tgt-sub"}]
    assert out[0]["ip_kept"] is False and out[0]["mac_kept"] is False
    assert ledger.items == [("port", "port-1")] and "Neutron refused its fixed IPs and MAC" in warnings[0]


def test_on_a_network_of_another_project_neutron_chooses_the_addresses_and_pairs_are_left_out() -> None:
    neutron = FakeNeutron()
    neutron.not_owner = True
    out, ledger, warnings = make(neutron, [PORT])
    assert neutron.created == [
        (
            "tgt-net",
            {"name": "web-eth0", "fixed_ips": [{"subnet_id": "tgt-sub"}], "security_groups": ["new-sg"]},
        )
    ]
    assert out[0]["ip_kept"] is False and out[0]["mac_kept"] is False and ledger.items == [("port", "port-1")]
    assert "Neutron refused its allowed address pairs" in warnings[0]


def test_no_subnet_of_the_same_cidr_gives_an_address_on_the_mapped_subnet() -> None:
    neutron = FakeNeutron()
    mapped = {"id": "other-net", "name": "other", "action": "mapped", "subnet_id": "chosen", "subnets": {}}
    out, _, warnings = make(neutron, [PORT], {"src-net": mapped})
    assert neutron.created[0][1]["fixed_ips"] == [{"subnet_id": "chosen"}]
    assert out[0]["ip_kept"] is False and out[0]["mac_kept"] is True
    assert "no subnet of 10.0.0.5's CIDR" in warnings[0]


def test_ports_follow_the_nic_order_and_port_security_off_drops_groups_and_pairs() -> None:
    neutron = FakeNeutron()
    second = {**PORT, "id": "p2", "mac_address": "fa:16:3e:00:00:99", "fixed_ips": [],
              "is_port_security_enabled": False, "name": ""}  # fmt: skip
    out, ledger, _ = make(neutron, [PORT, second])
    assert [p["source_port_id"] for p in out] == ["src-port", "p2"]
    assert neutron.created[1][1] == {"mac_address": "fa:16:3e:00:00:99", "port_security_enabled": False}
    assert ledger.items == [("port", "port-1"), ("port", "port-2")]


def test_nic_order_is_the_ports_creation_order_then_the_records() -> None:
    late = {**PORT, "id": "late", "created_at": "2026-12-01T10:00:05Z"}
    early = {**PORT, "id": "early", "created_at": "2026-12-01T10:00:01Z"}
    undated = [{"id": "x"}, {"id": "y"}]
    assert [p["id"] for p in ports.nic_order([late, early])] == ["early", "late"]
    assert [p["id"] for p in ports.nic_order(undated)] == ["x", "y"]
    out, _, _ = make(FakeNeutron(), [late, early])
    assert [p["source_port_id"] for p in out] == ["early", "late"]


def test_a_port_on_a_network_without_a_target_is_a_clear_error() -> None:
    with pytest.raises(errors.BadRequest, match=r"network src-net of its port .* has no target network"):
        make(FakeNeutron(), [PORT], {})


# -- the VM: ports and server group passed to Nova


def definition(**extra: Any) -> dict[str, Any]:
    return {
        "server": {"name": "web", "image_id": "img", "metadata": {}},
        "flavor": {"id": "f-old", "name": "small", "vcpus": 1, "ram": 128, "disk": 1},
        "security_groups": [{"id": "src-sg", "name": "web", "security_group_rules": []}],
        "volumes": [],
        **extra,
    }


@pytest.fixture
def cloud(t4o_conf: Any, monkeypatch: pytest.MonkeyPatch, agent_writes: None) -> Any:
    config.ensure_registered(t4o_conf)
    c = mock.Mock()
    c.neutron = FakeNeutron()
    c.neutron.security_group_id = lambda ref, project: None  # type: ignore[attr-defined]
    c.neutron.create_security_group = lambda name, description: "new-sg"  # type: ignore[attr-defined]
    c.neutron.add_security_group_rule = mock.Mock()  # type: ignore[attr-defined]
    c.neutron.delete_security_group = c.neutron.deleted.append  # type: ignore[attr-defined]
    c.glance.exists.return_value = True
    c.nova.flavor.return_value = FlavorInfo("f-old", "small", 1, 128, 1)
    c.nova.create_server.return_value = "srv"
    c.nova.server_group_id.return_value = None
    c.nova.create_server_group.return_value = "new-group"
    c.nova.attachments.return_value = [Attachment("x", "/dev/vda")]
    return c


ROOT = {"ref": "r-root", "target": "vda", "size": 1 << 30, "volume_id": None}
GROUP = {"id": "src-group", "name": "web-ha", "policy": "anti-affinity", "rules": {}}


def new_vm(
    cloud: Any, vm: Any, needs: Prerequisites | None = None
) -> tuple[dict[str, Any], Ledger, list[str]]:
    ledger = Ledger(cloud)
    warnings: list[str] = []
    needs = needs or Prerequisites(ledger, "p")
    out = flow._new_vm(
        cloud,
        None,
        ledger,
        needs,
        vm,
        {},
        {},
        {"src-net": NET},
        lambda f, m: None,
        warnings,  # type: ignore[arg-type]
    )
    return out, ledger, warnings


def test_the_server_is_created_on_its_ports_in_nic_order_and_in_its_recreated_group(cloud: Any) -> None:
    second = {**PORT, "id": "p2", "mac_address": "fa:16:3e:00:00:99",
              "fixed_ips": [{"subnet_id": "src-sub", "ip_address": "10.0.0.6"}]}  # fmt: skip
    vm = SimpleNamespace(
        vm_id="vm1",
        vm_name="web",
        disks=[ROOT],
        definition=definition(ports=[PORT, second], server_group=GROUP),
    )
    out, ledger, warnings = new_vm(cloud, vm)
    kwargs = cloud.nova.create_server.call_args.kwargs
    assert kwargs["port_ids"] == ["port-1", "port-2"] and kwargs["server_group_id"] == "new-group"
    cloud.nova.create_server_group.assert_called_once_with("web-ha", "anti-affinity", None)
    assert [p["fixed_ips"][0]["ip_address"] for p in out["ports"]] == ["10.0.0.5", "10.0.0.6"]
    assert out["server_group"] == "new-group"
    assert {"kind": "server_group", "id": "new-group", "name": "web-ha"} in out["created"]
    assert [k for k, _ in ledger.items] == ["security_group", "server_group", "port", "port", "server"]
    assert warnings == []


def test_a_record_without_ports_gives_a_server_without_nics(cloud: Any) -> None:
    vm = SimpleNamespace(vm_id="vm1", vm_name="web", disks=[ROOT], definition=definition())
    out, _, _ = new_vm(cloud, vm)
    kwargs = cloud.nova.create_server.call_args.kwargs
    assert kwargs["port_ids"] is None and kwargs["server_group_id"] is None
    assert out["ports"] == [] and cloud.neutron.created == []


def test_a_failed_server_create_leaves_its_ports_for_the_undo(cloud: Any) -> None:
    cloud.nova.create_server.side_effect = RuntimeError("no valid host")
    vm = SimpleNamespace(vm_id="vm1", vm_name="web", disks=[ROOT], definition=definition(ports=[PORT]))
    ledger = Ledger(cloud)
    with pytest.raises(RuntimeError):
        flow._new_vm(cloud, None, ledger, Prerequisites(ledger, "p"), vm, {}, {}, {"src-net": NET},
                     lambda f, m: None, [])  # type: ignore[arg-type]  # fmt: skip
    assert ledger.undo() == []
    assert cloud.neutron.deleted == ["port-1", "new-sg"]  # newest first


def test_vms_of_one_server_group_share_the_group_it_is_recreated_once_across_threads(cloud: Any) -> None:
    made = []

    def slow_create(name: str, policy: str, rules: Any) -> str:
        made.append(name)
        threading.Event().wait(0.05)
        return f"group-{len(made)}"

    cloud.nova.create_server_group.side_effect = slow_create
    needs = Prerequisites(Ledger(cloud), "p")
    got: list[str | None] = []
    threads = [
        threading.Thread(target=lambda: got.append(needs.server_group(cloud, GROUP, []))) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert made == ["web-ha"] and got == ["group-1"] * 4
    assert needs.ledger.items == [("server_group", "group-1")]


def test_a_server_group_that_still_exists_is_used_as_it_is(cloud: Any) -> None:
    cloud.nova.server_group_id.side_effect = lambda ref: "kept" if ref == "src-group" else None
    needs = Prerequisites(Ledger(cloud), "p")
    log: list[dict] = []
    assert needs.server_group(cloud, GROUP, log) == "kept"
    assert needs.server_group(cloud, None, log) is None
    cloud.nova.create_server_group.assert_not_called()
    assert log == [] and needs.ledger.items == []


def test_a_port_whose_groups_were_not_restored_gets_neutrons_default_group(caplog: Any) -> None:
    neutron = FakeNeutron()
    make(neutron, [{**PORT, "security_group_ids": ["unknown"]}, {**PORT, "security_group_ids": []}])
    assert "security_groups" not in neutron.created[0][1]  # left to Neutron: the project's default group
    assert neutron.created[1][1]["security_groups"] == []  # it had none
    assert "security group unknown of port src-port is not restored" in caplog.text
