"""Which volumes of a VM count as detached, and the Cinder snapshot steps (Cinder replaced by a stub)."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from openstack import exceptions as sdk_exc

from t4o.openstack import volumes


def vol(vid: str, status: str = "available", attachments: list[dict[str, Any]] | None = None) -> Any:
    return SimpleNamespace(
        id=vid, name=f"n-{vid}", size=1, volume_type="nfs", is_bootable=False, availability_zone="nova",
        description="", metadata={}, status=status, attachments=attachments or [],
    )  # fmt: skip


class BlockStorage:
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

    def get_snapshot(self, sid: str) -> Any:
        if sid not in self.snaps:
            raise sdk_exc.ResourceNotFound(sid)
        snap = self.snaps[sid]
        if snap.status == "creating":
            snap.status = self.next_status
        elif snap.status == "deleting":
            del self.snaps[sid]
        return snap

    def delete_snapshot(self, sid: str, ignore_missing: bool = True) -> None:
        self.deleted.append(sid)
        self.snaps[sid].status = "deleting"

    def snapshots(self, volume_id: str) -> list[Any]:
        return [s for s in self.snaps.values() if s.volume_id == volume_id]

    next_status = "available"


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(volumes.time, "sleep", lambda s: None)


def test_detached_are_the_known_volumes_now_available_and_unattached() -> None:
    bs = BlockStorage(
        {
            "a": vol("a", "in-use", [{"server_id": "vm1"}]),  # attached to the VM: read through the domain
            "b": vol("b"),  # detached: protected through a Cinder snapshot
            "c": vol("c", "in-use", [{"server_id": "other"}]),  # moved to another server
        }
    )
    known = [{"id": "a"}, {"id": "b"}, {"id": "b"}, {"id": "c"}, {"id": "gone"}]
    found, notes = volumes.detached_volumes(SimpleNamespace(block_storage=bs), known, {"a"})
    assert [v["id"] for v in found] == ["b"] and found[0]["attached"] is False
    assert any("gone no longer exists" in n for n in notes)
    assert any("attached to server other" in n for n in notes)


def test_a_detached_volume_in_a_transient_state_fails_the_vm() -> None:
    bs = BlockStorage({"b": vol("b", "downloading")})
    with pytest.raises(volumes.VolumeStepFailed, match="downloading"):
        volumes.detached_volumes(SimpleNamespace(block_storage=bs), [{"id": "b"}], set())


def test_snapshot_is_created_and_deleted_and_a_failed_one_is_not_left() -> None:
    bs = BlockStorage({"b": vol("b")})
    conn = SimpleNamespace(block_storage=bs)
    sid = volumes.create_snapshot(conn, "b", "t4o-S1-b", timeout=10)
    assert bs.snaps[sid].status == "available"
    volumes.delete_snapshot(conn, sid, timeout=10)
    assert bs.snaps == {} and bs.deleted == [sid]

    bs.next_status = "error"
    with pytest.raises(volumes.VolumeStepFailed, match="went to error"):
        volumes.create_snapshot(conn, "b", "t4o-S2-b", timeout=10)
    assert bs.snaps == {}  # the failed snapshot was deleted again


def test_leftovers_are_our_snapshots_of_other_runs_only() -> None:
    bs = BlockStorage({"b": vol("b")})
    conn = SimpleNamespace(block_storage=bs)
    old_run, new_run = str(uuid.uuid4()), str(uuid.uuid4())
    mine_old = volumes.create_snapshot(conn, "b", volumes.snapshot_name(old_run, "b"), timeout=10)
    volumes.create_snapshot(conn, "b", "user's own", timeout=10)
    volumes.create_snapshot(conn, "b", "t4o-something-of-the-user", timeout=10)
    volumes.create_snapshot(conn, "b", volumes.snapshot_name(new_run, "b"), timeout=10)
    assert volumes.leftover_snapshots(conn, "b", new_run) == [mine_old]
