"""Which volumes of a VM count as detached, and the Cinder snapshot steps (Cinder's API replaced by a
stub of openstacksdk's block storage proxy)."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from openstack import exceptions as sdk_exc

from t4o.openstack import waits
from t4o.openstack.cinder import BlockStorage
from t4o.openstack.waits import CloudStepFailed
from t4o.workloads.flows import detached


def vol(vid: str, status: str = "available", attachments: list[dict[str, Any]] | None = None) -> Any:
    return SimpleNamespace(
        id=vid, name=f"n-{vid}", size=1, volume_type="nfs", is_bootable=False, availability_zone="nova",
        description="", metadata={}, status=status, attachments=attachments or [],
    )  # fmt: skip


class BlockStorageApi:
    """Snapshots go creating -> ``next_status``, and deleting -> gone, one step per read."""

    next_status = "available"

    def __init__(self, vols: dict[str, Any]) -> None:
        self.vols = vols
        self.snaps: dict[str, Any] = {}
        self.deleted: list[str] = []

    def find_volume(self, vid: str, ignore_missing: bool = True) -> Any:
        return self.vols.get(vid)

    def create_snapshot(self, volume_id: str, name: str, description: str) -> Any:
        snap = SimpleNamespace(id=f"s{len(self.snaps)}", volume_id=volume_id, name=name, status="creating")
        self.snaps[snap.id] = snap
        return snap

    def find_snapshot(self, sid: str, ignore_missing: bool = True) -> Any:
        snap = self.snaps.get(sid)
        if snap is not None and snap.status == "creating":
            snap.status = self.next_status
        elif snap is not None and snap.status == "deleting":
            del self.snaps[sid]
        return snap

    def wait_for_status(
        self, res: Any, status: str, failures: list[str], interval: float, wait: float
    ) -> Any:
        snap = self.find_snapshot(res.id)
        if snap.status in failures:
            raise sdk_exc.ResourceFailure(f"{res.id} transitioned to failure state {snap.status}")
        return snap

    def delete_snapshot(self, snap: Any, ignore_missing: bool = True) -> None:
        self.deleted.append(snap.id)
        self.snaps[snap.id].status = "deleting"

    def snapshots(self, volume_id: str) -> list[Any]:
        return [s for s in self.snaps.values() if s.volume_id == volume_id]


def cinder(vols: dict[str, Any]) -> tuple[BlockStorage, BlockStorageApi]:
    api = BlockStorageApi(vols)
    return BlockStorage(SimpleNamespace(block_storage=api)), api  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(waits.time, "sleep", lambda s: None)


def test_detached_are_the_known_volumes_now_available_and_unattached() -> None:
    bs, _ = cinder(
        {
            "a": vol("a", "in-use", [{"server_id": "vm1"}]),  # attached to the VM: read through the domain
            "b": vol("b"),  # detached: protected through a Cinder snapshot
            "c": vol("c", "in-use", [{"server_id": "other"}]),  # moved to another server
        }
    )
    known = [{"id": "a"}, {"id": "b"}, {"id": "b"}, {"id": "c"}, {"id": "gone"}]
    found, notes = detached.detached_volumes(bs, known, {"a"})
    assert [v["id"] for v in found] == ["b"] and found[0]["attached"] is False
    assert any("gone no longer exists" in n for n in notes)
    assert any("attached to server other" in n for n in notes)


def test_a_detached_volume_in_a_transient_state_fails_the_vm() -> None:
    bs, _ = cinder({"b": vol("b", "downloading")})
    with pytest.raises(CloudStepFailed, match="downloading"):
        detached.detached_volumes(bs, [{"id": "b"}], set())


def test_snapshot_is_created_and_deleted_and_a_failed_one_is_not_left() -> None:
    bs, api = cinder({"b": vol("b")})
    sid = bs.create_snapshot("b", "t4o-S1-b", "", timeout=10)
    assert api.snaps[sid].status == "available"
    bs.delete_snapshot(sid, timeout=10)
    assert api.snaps == {} and api.deleted == [sid]

    api.next_status = "error"
    with pytest.raises(CloudStepFailed, match="went to error"):
        bs.create_snapshot("b", "t4o-S2-b", "", timeout=10)
    assert api.snaps == {}  # the failed snapshot was deleted again


def test_a_snapshot_cinder_cannot_delete_fails_at_once() -> None:
    bs, api = cinder({"b": vol("b")})
    sid = bs.create_snapshot("b", "t4o-S1-b", "", timeout=10)
    api.snaps[sid].status = "error_deleting"
    with pytest.raises(CloudStepFailed, match=f"Cinder snapshot {sid} went to error_deleting"):
        bs.delete_snapshot(sid, timeout=10)


def test_leftovers_are_our_snapshots_of_other_runs_only() -> None:
    bs, _ = cinder({"b": vol("b")})
    old_run, new_run = str(uuid.uuid4()), str(uuid.uuid4())
    mine_old = bs.create_snapshot("b", detached.snapshot_name(old_run, "b"), "", timeout=10)
    bs.create_snapshot("b", "user's own", "", timeout=10)
    bs.create_snapshot("b", "t4o-something-of-the-user", "", timeout=10)
    bs.create_snapshot("b", detached.snapshot_name(new_run, "b"), "", timeout=10)
    assert detached.leftover_snapshots(bs, "b", new_run) == [mine_old]
