"""How a snapshot records a Cinder volume, attached (through the server's attachments) or detached."""

from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

from t4o.openstack.definitions import capture_volumes
from t4o.openstack.volumes import describe


def volume(vid: str) -> SimpleNamespace:
    return SimpleNamespace(
        id=vid, name=f"vol-{vid}", size=1, volume_type="nfs", is_bootable=False,
        availability_zone="nova", description="", metadata={"k": "v"},
    )  # fmt: skip


def test_a_detached_volume_has_no_device() -> None:
    rec = describe(volume("a"))
    assert (rec["device"], rec["target"], rec["attached"]) == (None, None, False)
    assert rec["metadata"] == {"k": "v"} and rec["size"] == 1


def test_attached_volumes_carry_their_device_and_target() -> None:
    conn = mock.Mock()
    conn.compute.volume_attachments.return_value = [
        SimpleNamespace(volume_id="a", device="/dev/vdb"),
        SimpleNamespace(volume_id="b", device=None),
    ]
    conn.block_storage.get_volume.side_effect = volume
    recs = capture_volumes(conn, "server-1")
    conn.compute.volume_attachments.assert_called_once_with("server-1")
    assert [(r["id"], r["device"], r["target"], r["attached"]) for r in recs] == [
        ("a", "/dev/vdb", "vdb", True),
        ("b", "", "", True),
    ]
