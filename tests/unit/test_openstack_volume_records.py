"""How a snapshot records a Cinder volume, attached (through the server's attachments) or detached."""

from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

from openstack.block_storage.v3.volume import Volume as SdkVolume

from t4o.openstack.cinder import _volume
from t4o.openstack.connection import UserCloud
from t4o.openstack.definitions import capture_volumes


def volume(vid: str) -> SdkVolume:
    return SdkVolume(
        id=vid, name=f"vol-{vid}", size=1, volume_type="nfs", is_bootable=False,
        availability_zone="nova", description="", metadata={"k": "v"}, status="in-use",
        attachments=[{"server_id": "server-1", "device": "/dev/vdb"}],
    )  # fmt: skip


def test_a_detached_volume_has_no_device() -> None:
    rec = _volume(volume("a")).record()
    assert (rec["device"], rec["target"], rec["attached"]) == (None, None, False)
    assert rec["metadata"] == {"k": "v"} and rec["size"] == 1 and rec["bootable"] is False


def test_the_typed_volume_keeps_cinders_fields() -> None:
    vol = _volume(volume("a"))
    assert (vol.id, vol.name, vol.volume_type, vol.status) == ("a", "vol-a", "nfs", "in-use")
    assert vol.attached_to == ("server-1",)


def test_attached_volumes_carry_their_device_and_target() -> None:
    conn = mock.Mock()
    conn.compute.volume_attachments.return_value = [
        SimpleNamespace(volume_id="a", device="/dev/vdb"),
        SimpleNamespace(volume_id="b", device=None),
    ]
    conn.block_storage.get_volume.side_effect = volume
    recs = capture_volumes(UserCloud.over(conn), "server-1")
    conn.compute.volume_attachments.assert_called_once_with("server-1")
    assert [(r["id"], r["device"], r["target"], r["attached"]) for r in recs] == [
        ("a", "/dev/vdb", "vdb", True),
        ("b", "", "", True),
    ]
