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

    monkeypatch.setattr(flow, "_write_disks", write_disks)
    c = mock.Mock()
    c.written = written
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


def test_written_volumes_are_attached_to_the_stopped_server_while_its_root_disk_is_written(
    cloud: Any,
) -> None:
    cloud.glance.exists.return_value = True
    cloud.nova.keypair_exists.return_value = True
    volumes = [{"id": "src-data", "size": 1, "volume_type": None, "name": "data", "target": "vdb"}]
    vm = SimpleNamespace(
        vm_id="vm1", vm_name="web", definition=definition(volumes=volumes),
        disks=[ROOT, {"ref": "r-data", "target": "vdb", "size": GiB, "volume_id": "src-data"}],
    )  # fmt: skip
    out, _ = new_vm(cloud, vm)
    steps = [c[0] for c in cloud.mock_calls if c[0].startswith(("nova.", "cinder.create_volume"))]
    # The data volume is asked for after the server; the attach waits for Nova's stop, which the root
    # disk's transfer (power_off) completes, and the server is started once both are done.
    assert steps.index("nova.create_server") < steps.index("cinder.create_volume")
    order = [
        s for s in steps if s in ("nova.request_stop", "nova.wait_server", "nova.attach_volume", "nova.start")
    ]
    assert order == [
        "nova.wait_server",
        "nova.request_stop",
        "nova.wait_server",
        "nova.attach_volume",
        "nova.start",
    ]
    assert cloud.nova.wait_server.call_args_list[1].args[1] == "SHUTOFF"
    assert cloud.written == [
        [{"ref": "r-data", "volume_id": "vol-data"}],
        [{"ref": "r-root", "target": "vda"}],
    ]
    assert [(v["id"], v["target"]) for v in out["volumes"]] == [("vol-data", "vdb")]


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

    def attach() -> None:
        raise RuntimeError("Nova refused the attach")

    with pytest.raises(RuntimeError, match="refused"):
        flow._write_disks(
            dm, "srv", [ROOT], lambda f, m: None, 0.6, vault={"url": "file:///vault"}, meanwhile=attach
        )  # type: ignore[arg-type]
    assert dm.calls == ["start", "cancel", "wait"]
    dm.calls.clear()
    out = flow._write_disks(
        dm, "srv", [ROOT], lambda f, m: None, 0.6, vault={"url": "file:///vault"}, meanwhile=lambda: None
    )  # type: ignore[arg-type]
    assert out == [{"target": "vda"}] and dm.calls == ["start", "wait"]
