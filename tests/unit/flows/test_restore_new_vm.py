"""A new VM of a one-click restore when its image is gone or it booted from a volume: the root disk is
written into a new bootable volume the server boots from (boot index 0), and what was re-created is in
the VM's result; the cloud layer and the datamover are mocked."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest

from t4o.openstack.nova import Attachment, FlavorInfo
from t4o.workloads.flows import config
from t4o.workloads.flows import restore as flow
from t4o.workloads.flows.ledger import Ledger
from t4o.workloads.flows.prerequisites import Prerequisites

GiB = 1 << 30
ROOT = {"ref": "r-root", "target": "vda", "size": GiB, "volume_id": None}


def definition(**extra: Any) -> dict[str, Any]:
    return {
        "server": {"name": "web", "image_id": "img", "metadata": {}},
        "flavor": {"id": "f-old", "name": "small", "vcpus": 1, "ram": 128, "disk": 1},
        "image": {"id": "img", "properties": {"hw_disk_bus": "virtio"}},
        "keypair": {"name": "k", "public_key": "ssh-ed25519 AAA"},
        "security_groups": [],
        "volumes": [],
        **extra,
    }


@pytest.fixture
def cloud(t4o_conf: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    config.ensure_registered(t4o_conf)
    written: list[Any] = []

    # Each transfer: the disks written through the domain, then the volumes written into their files;
    # what runs while the transfer does (``meanwhile``) is run too.
    def write_disks(dm: Any, sid: str, disks: list, say: Any, low: float, vols: Any = None, *a: Any,
                    meanwhile: Any = None, **k: Any) -> list:  # fmt: skip
        written.append(disks + (vols or []))
        if meanwhile is not None:
            meanwhile()
        return []

    # The transfer that writes the server's disks: its options (the restart) and what the agent says.
    transfers: list[dict[str, Any]] = []

    def restore_transfer(dm: Any, sid: str, disks: list, vols: list, options: dict, vault: Any, say: Any,
                         low: float, high: float, meanwhile: Any = None) -> dict:  # fmt: skip
        written.append(disks + vols)
        transfers.append(options)
        if meanwhile is not None:
            meanwhile("ref")
        return {"disks": [], **c.outcome}

    monkeypatch.setattr(flow, "_write_disks", write_disks)
    monkeypatch.setattr(flow, "_restore_transfer", restore_transfer)
    monkeypatch.setattr(flow, "_wait_domain_off", lambda dm, ref, timeout: None)
    c = mock.Mock()
    c.written = written
    c.transfers = transfers
    c.outcome = {"restarted": True, "off_seconds": 2.5}
    c.nova.flavor.return_value = FlavorInfo("f-old", "small", 1, 128, 1)
    c.nova.keypair_exists.return_value = False
    c.nova.create_server.return_value = "srv"
    # The data volumes are created before the root volume (Cinder makes them while the rest goes on).
    c.cinder.create_volume.side_effect = lambda **kw: "vol-data" if kw["name"] == "data" else "vol-root"
    c.nova.attachments.return_value = [Attachment("vol-root", "/dev/vda")]
    c.nova.attach_volume.return_value = Attachment("vol-data", "/dev/vdb")
    return c


def new_vm(cloud: Any, vm: Any) -> tuple[dict[str, Any], Ledger]:
    ledger = Ledger(cloud)
    out = flow._new_vm(
        cloud, mock.Mock(), ledger, Prerequisites(ledger, "p"), vm, {}, {}, {}, lambda f, m: None
    )  # type: ignore[arg-type]
    return out, ledger


def test_a_vm_whose_image_is_gone_boots_from_a_volume_holding_its_root_disk(cloud: Any) -> None:
    cloud.glance.exists.return_value = False
    vm = SimpleNamespace(vm_id="vm1", vm_name="web", definition=definition(), disks=[ROOT])
    out, ledger = new_vm(cloud, vm)
    cloud.cinder.create_volume.assert_called_once_with(
        size=1, name="web-vda", volume_type=None, description=""
    )
    cloud.cinder.make_bootable.assert_called_once_with("vol-root", {"hw_disk_bus": "virtio"})
    args, kwargs = cloud.nova.create_server.call_args
    assert args == ("web", "f-old", None) and kwargs["boot_volume_id"] == "vol-root"
    assert kwargs["key_name"] == "k"
    assert cloud.written == [[{"ref": "r-root", "target": "vda"}]]
    assert out["boot"] == {"source": "volume", "volume_id": "vol-root"}
    assert out["created"] == [{"kind": "keypair", "id": "k", "name": "k"}]
    assert out["volumes"][0]["boot"] is True
    assert [k for k, _ in ledger.items] == ["keypair", "volume", "server"]


def test_a_vm_whose_image_exists_still_boots_from_it(cloud: Any) -> None:
    cloud.glance.exists.return_value = True
    cloud.nova.keypair_exists.return_value = True
    vm = SimpleNamespace(vm_id="vm1", vm_name="web", definition=definition(), disks=[ROOT])
    out, _ = new_vm(cloud, vm)
    args, kwargs = cloud.nova.create_server.call_args
    assert args == ("web", "f-old", "img") and kwargs["boot_volume_id"] is None
    cloud.cinder.create_volume.assert_not_called()
    assert out["boot"] == {"source": "image", "image_id": "img"} and out["created"] == []


def test_a_vm_booted_from_a_volume_boots_from_its_restored_volume_and_gets_its_other_volumes(
    cloud: Any,
) -> None:
    cloud.nova.keypair_exists.return_value = True
    volumes = [
        {
            "id": "src-root",
            "size": 2,
            "volume_type": "fast",
            "name": "root",
            "target": "vda",
            "bootable": True,
        },
        {"id": "src-data", "size": 1, "volume_type": None, "name": "data", "target": "vdb"},
    ]
    vm = SimpleNamespace(
        vm_id="vm1", vm_name="web",
        definition=definition(server={"name": "web", "image_id": None}, volumes=volumes,
                              boot={"source": "volume", "volume_id": "src-root"}),
        disks=[{"ref": "r-root", "target": "vda", "size": 2 * GiB, "volume_id": "src-root"},
               {"ref": "r-data", "target": "vdb", "size": GiB, "volume_id": "src-data"}],
    )  # fmt: skip
    out, _ = new_vm(cloud, vm)
    first = next(c for c in cloud.cinder.create_volume.call_args_list if c.kwargs["name"] == "root")
    assert first.kwargs == {"size": 2, "name": "root", "volume_type": "fast", "description": ""}
    cloud.glance.exists.assert_not_called()
    assert cloud.nova.create_server.call_args.kwargs["boot_volume_id"] == "vol-root"
    cloud.nova.attach_volume.assert_called_once_with("srv", "vol-data")
    # The data volume is filled through its file before it is attached, then the root disk is written.
    assert cloud.written == [
        [{"ref": "r-data", "volume_id": "vol-data"}],
        [{"ref": "r-root", "target": "vda"}],
    ]
    assert [(v["id"], v["source_volume_id"]) for v in out["volumes"]] == [
        ("vol-root", "src-root"),
        ("vol-data", "src-data"),
    ]


def test_a_volume_type_that_is_gone_gives_cinders_default_type(cloud: Any) -> None:
    cloud.nova.keypair_exists.return_value = True
    cloud.cinder.volume_type_exists.return_value = False
    volumes = [{"id": "src-root", "size": 1, "volume_type": "gone", "name": "root", "target": "vda"}]
    vm = SimpleNamespace(
        vm_id="vm1", vm_name="web",
        definition=definition(server={"name": "web"}, volumes=volumes),
        disks=[{"ref": "r-root", "target": "vda", "size": GiB, "volume_id": "src-root"}],
    )  # fmt: skip
    out, _ = new_vm(cloud, vm)
    assert cloud.cinder.create_volume.call_args.kwargs["volume_type"] is None
    assert out["volumes"][0]["volume_type"] is None


def data_vm() -> Any:
    volumes = [{"id": "src-data", "size": 1, "volume_type": None, "name": "data", "target": "vdb"}]
    return SimpleNamespace(
        vm_id="vm1", vm_name="web", definition=definition(volumes=volumes),
        disks=[ROOT, {"ref": "r-data", "target": "vdb", "size": GiB, "volume_id": "src-data"}],
    )  # fmt: skip


def test_the_agent_restarts_the_domain_and_volumes_are_attached_while_its_root_disk_is_written(
    cloud: Any,
) -> None:
    cloud.glance.exists.return_value = True
    cloud.nova.keypair_exists.return_value = True
    out, _ = new_vm(cloud, data_vm())
    steps = [c[0] for c in cloud.mock_calls if c[0].startswith(("nova.", "cinder.create_volume"))]
    # The data volume is asked for after the server; it is attached while the agent has the domain off
    # for the root disk, and the agent starts the domain again once it is attached: no stop or start
    # through Nova.
    assert steps.index("nova.create_server") < steps.index("cinder.create_volume")
    order = [s for s in steps if s in ("nova.stop", "nova.wait_server",
                                       "nova.attach_volume", "nova.start")]  # fmt: skip
    assert order == ["nova.wait_server", "nova.attach_volume"]
    assert cloud.nova.wait_server.call_args.args[1] == "ACTIVE"
    assert cloud.transfers == [{"restart": {"volumes": ["vol-data"]}}]
    assert cloud.written == [
        [{"ref": "r-data", "volume_id": "vol-data"}],
        [{"ref": "r-root", "target": "vda"}],
    ]
    assert [(v["id"], v["target"]) for v in out["volumes"]] == [("vol-data", "vdb")]


def test_a_domain_the_agent_left_off_is_stopped_and_started_through_nova(cloud: Any) -> None:
    cloud.glance.exists.return_value = True
    cloud.nova.keypair_exists.return_value = True
    cloud.outcome = {"restarted": False, "off_seconds": 12.1, "reason": "its disks took too long"}
    new_vm(cloud, data_vm())
    order = [c[0] for c in cloud.mock_calls if c[0] in ("nova.attach_volume", "nova.stop", "nova.start")]
    assert order == ["nova.attach_volume", "nova.stop", "nova.start"]


def test_a_server_without_volumes_is_restarted_by_the_agent_with_nothing_to_wait_for(cloud: Any) -> None:
    cloud.glance.exists.return_value = True
    cloud.nova.keypair_exists.return_value = True
    vm = SimpleNamespace(vm_id="vm1", vm_name="web", definition=definition(), disks=[ROOT])
    new_vm(cloud, vm)
    assert cloud.transfers == [{"restart": {"volumes": []}}]
    cloud.nova.stop.assert_not_called()
    cloud.nova.start.assert_not_called()


class FakeTransfers:
    """A datamover whose one transfer is followed through start, cancel and wait."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def start(self, kind: str, server_id: str, spec: dict[str, Any]) -> str:
        self.calls.append("start")
        return "ref"

    def cancel(self, ref: str) -> None:
        self.calls.append("cancel")

    def wait(self, ref: str, on_progress: Any = None) -> dict[str, Any]:
        self.calls.append("wait")
        if "cancel" in self.calls:
            raise flow.TransferFailed("transfer ref was cancelled")
        return {"result": {"disks": [{"target": "vda"}]}}


def test_a_failure_beside_a_transfer_cancels_it_and_waits_for_its_end(t4o_conf: Any) -> None:
    dm = FakeTransfers()

    def attach(ref: Any) -> None:
        raise RuntimeError("Nova refused the attach")

    def transfer(meanwhile: Any) -> dict[str, Any]:
        return flow._restore_transfer(
            dm, "srv", [ROOT], [], {"restart": {"volumes": []}}, {"url": "file:///vault"},
            lambda f, m: None, 0.6, 0.95, meanwhile=meanwhile,
        )  # type: ignore[arg-type]  # fmt: skip

    with pytest.raises(RuntimeError, match="refused"):
        transfer(attach)
    assert dm.calls == ["start", "cancel", "wait"]
    dm.calls.clear()
    out = transfer(lambda ref: None)
    assert out == {"disks": [{"target": "vda"}]} and dm.calls == ["start", "wait"]
