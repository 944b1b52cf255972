"""t4o.openstack.cinder.BlockStorage: volume waits and deletes (the openstacksdk block storage proxy
mocked)."""

from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

import pytest
from openstack import exceptions as sdk_exc

from t4o.openstack import waits
from t4o.openstack.cinder import BlockStorage
from t4o.openstack.waits import CloudStepFailed


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(waits.time, "sleep", lambda s: None)


def vol(status: str) -> SimpleNamespace:
    return SimpleNamespace(
        id="v1", name="data", size=2, volume_type="nfs", is_bootable=False, availability_zone="nova",
        description=None, status=status, metadata=None, attachments=[],
    )  # fmt: skip


def storage(*states: str | None) -> tuple[BlockStorage, mock.Mock]:
    conn = mock.Mock()
    conn.block_storage.find_volume.side_effect = [None if s is None else vol(s) for s in states]
    return BlockStorage(conn), conn.block_storage


def test_wait_volume_returns_the_typed_volume() -> None:
    cinder, _ = storage("creating", "available")
    got = cinder.wait_volume("v1", "available", timeout=10)
    assert (got.id, got.size, got.status, got.metadata, got.attached_to) == ("v1", 2, "available", {}, ())


def test_a_volume_in_error_fails_the_wait() -> None:
    cinder, _ = storage("creating", "error")
    with pytest.raises(CloudStepFailed, match="volume v1 went to error"):
        cinder.wait_volume("v1", "available", timeout=10)


def test_delete_waits_until_cinder_accepts_it_then_until_it_is_gone() -> None:
    cinder, api = storage("detaching", "available")
    cinder.delete_volume("v1", timeout=20)
    assert api.delete_volume.call_args.args[0].status == "available"
    assert api.wait_for_delete.call_args.kwargs == {"interval": 1, "wait": 20}


def test_deleting_a_volume_that_is_gone_does_nothing() -> None:
    cinder, api = storage(None)
    cinder.delete_volume("v1", timeout=20)
    api.delete_volume.assert_not_called()


def test_a_snapshot_that_never_becomes_available_is_deleted_and_named() -> None:
    conn = mock.Mock()
    api = conn.block_storage
    api.create_snapshot.return_value = SimpleNamespace(id="s1", status="creating")
    api.wait_for_status.side_effect = sdk_exc.ResourceTimeout("slow")
    api.find_snapshot.side_effect = [SimpleNamespace(id="s1", status="available"), None]
    with pytest.raises(CloudStepFailed, match="Cinder snapshot s1 is not available after 5 s"):
        BlockStorage(conn).create_snapshot("v1", "t4o-x-v1", "", timeout=5)
    api.delete_snapshot.assert_called_once()


def test_a_volume_cinder_does_not_find_is_none() -> None:
    conn = mock.Mock()
    conn.block_storage.find_volume.side_effect = sdk_exc.NotFoundException("no volume v9")
    assert BlockStorage(conn).volume("v9") is None
    conn.block_storage.find_volume.assert_called_once_with("v9", ignore_missing=False)


def test_a_volume_goes_to_the_zone_named_and_only_available_zones_are_listed() -> None:
    cinder, api = storage()
    api.create_volume.return_value = SimpleNamespace(id="v9")
    assert cinder.create_volume(1, "data", None, "", availability_zone="az-2") == "v9"
    assert api.create_volume.call_args.kwargs["availability_zone"] == "az-2"
    cinder.create_volume(1, "data", None, "")
    assert "availability_zone" not in api.create_volume.call_args.kwargs  # Cinder's default zone
    api.availability_zones.return_value = [
        SimpleNamespace(name="nova", state={"available": True}),
        SimpleNamespace(name="down", state={"available": False}),
    ]
    assert cinder.availability_zones() == {"nova"}
    api.availability_zones.side_effect = sdk_exc.ForbiddenException("policy")
    assert cinder.availability_zones() is None  # not the caller's to list: not checked
