"""VolumeBitmaps against a fake QEMU monitor: which QMP commands a raw disk's bitmap chain takes, the
notes when it cannot, and LibvirtDiskSource reading only the changed blocks it was given."""

from __future__ import annotations

import json
from typing import Any

import libvirt_qemu
import pytest

from t4o.datamover.disks import volume_bitmaps
from t4o.datamover.disks.libvirt_source import DomainDisk, LibvirtDiskSource
from t4o.datamover.disks.volume_bitmaps import GRANULARITY, VolumeBitmaps, bitmap_name

XML = """<domain><name>vm</name><devices>
  <disk type='file' device='disk'><driver type='qcow2'/><target dev='vda'/><alias name='virtio-disk0'/></disk>
  <disk type='file' device='disk'><driver type='raw'/><target dev='vdb'/><alias name='ua-vol1'/></disk>
</devices></domain>"""


IN_USE = "Bitmap 'x' is currently in use by another operation and cannot be used"


class FakeQemu:
    """The QMP commands VolumeBitmaps sends, on two nodes (vda's and vdb's)."""

    def __init__(self) -> None:
        self.bitmaps: dict[str, dict[str, bool]] = {"node-a": {}, "node-b": {}}  # node -> name -> enabled
        self.exports: dict[str, list[str]] = {}
        self.log: list[str] = []
        self.fail: dict[str, str] = {}  # command -> error description
        self.busy_left = 0

    def name(self) -> str:
        return "vm"

    def XMLDesc(self, flags: int) -> str:
        return XML

    def command(self, request: str) -> str:
        msg = json.loads(request)
        cmd, args = msg["execute"], msg.get("arguments", {})
        self.log.append(cmd)
        if cmd in self.fail:
            return json.dumps({"error": {"class": "GenericError", "desc": self.fail[cmd]}})
        return json.dumps({"return": self.run(cmd, args)})

    def run(self, cmd: str, args: dict[str, Any]) -> Any:
        if cmd == "query-block":
            return [
                {"device": "", "qdev": f"/machine/peripheral/{alias}/virtio-backend", "inserted": {
                    "node-name": node,
                    "dirty-bitmaps": [{"name": n, "recording": e} for n, e in self.bitmaps[node].items()]
                    + [{"recording": True}],  # a backup job's own bitmap: no name
                }}
                for alias, node in (("virtio-disk0", "node-a"), ("ua-vol1", "node-b"))
            ]  # fmt: skip
        if cmd == "block-dirty-bitmap-add":
            assert args["name"] not in self.bitmaps[args["node"]]
            assert args["granularity"] == GRANULARITY and args["persistent"] is False
            self.bitmaps[args["node"]][args["name"]] = not args.get("disabled", False)
        elif cmd == "block-dirty-bitmap-remove":
            if args["name"] not in self.bitmaps[args["node"]]:
                raise AssertionError("removing a bitmap that is not there")
            if self.busy_left:
                self.busy_left -= 1
                self.log[-1] = "busy"
                return None
            del self.bitmaps[args["node"]][args["name"]]
        elif cmd == "transaction":
            for action in args["actions"]:
                self.run(action["type"], action["data"])
        elif cmd == "block-dirty-bitmap-merge":
            assert all(b in self.bitmaps[args["node"]] for b in args["bitmaps"])
        elif cmd == "block-export-add":
            assert args["writable"] is False and args["type"] == "nbd"
            assert not any(self.bitmaps[args["node-name"]][b] for b in args["bitmaps"]), "enabled bitmap"
            self.exports[args["id"]] = args["bitmaps"]
        elif cmd == "block-export-del":
            del self.exports[args["id"]]
        return None


@pytest.fixture
def qemu(monkeypatch: pytest.MonkeyPatch) -> FakeQemu:
    fake = FakeQemu()

    def monitor(dom: FakeQemu, request: str, flags: int) -> str:
        reply = json.loads(dom.command(request))
        if dom.log[-1] == "busy":
            return json.dumps({"error": {"class": "GenericError", "desc": IN_USE}})
        return json.dumps(reply)

    monkeypatch.setattr(libvirt_qemu, "qemuMonitorCommand", monitor)
    return fake


class FakeNbd:
    """The bitmap export's NBD connection: dirty ranges as block status."""

    dirty = [(0, 65536), (1 << 20, 131072)]
    opened: list[tuple[str, tuple[str, ...]]] = []

    def __init__(self, export: str, contexts: tuple[str, ...]) -> None:
        FakeNbd.opened.append((export, contexts))

    def extents(self, context: str, wanted: int, match: int) -> list[tuple[int, int]]:
        return list(self.dirty)

    def __enter__(self) -> FakeNbd:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def test_full_backup_starts_a_bitmap_on_the_raw_disks_node(qemu: FakeQemu) -> None:
    vb = VolumeBitmaps(qemu, "cp-1", None)  # type: ignore[arg-type]
    disks = vb.prepare(["vdb"])
    assert disks["vdb"].node == "node-b" and disks["vdb"].parent_bitmap is None and not disks["vdb"].note
    assert qemu.bitmaps["node-b"] == {bitmap_name("cp-1"): True}
    assert vb.changed_extents("vdb", "/nowhere") is None  # no parent: a full read


def test_incremental_reads_a_disabled_copy_of_the_parents_bitmap(
    qemu: FakeQemu, monkeypatch: pytest.MonkeyPatch
) -> None:
    qemu.bitmaps["node-b"] = {bitmap_name("cp-1"): True, "someone-else": True}
    monkeypatch.setattr(
        volume_bitmaps.NbdClient, "connect_unix", lambda sock, export, ctx: FakeNbd(export, ctx)
    )
    vb = VolumeBitmaps(qemu, "cp-2", "cp-1")  # type: ignore[arg-type]
    assert vb.prepare(["vdb"])["vdb"].parent_bitmap == bitmap_name("cp-1")
    assert vb.changed_extents("vdb", "/sock") == FakeNbd.dirty
    copy = f"{bitmap_name('cp-1')}:read"
    assert FakeNbd.opened[-1] == ("t4o-bitmap-vdb", (f"qemu:dirty-bitmap:{copy}",))
    assert qemu.exports == {}  # the export and the copy are gone again
    assert set(qemu.bitmaps["node-b"]) == {bitmap_name("cp-1"), bitmap_name("cp-2"), "someone-else"}
    assert vb.notes() == {}
    vb.commit()  # older bitmaps of ours go; the new one and other tools' stay
    assert set(qemu.bitmaps["node-b"]) == {bitmap_name("cp-2"), "someone-else"}
    vb.close()
    assert set(qemu.bitmaps["node-b"]) == {bitmap_name("cp-2"), "someone-else"}


def test_missing_parent_bitmap_is_a_full_read_with_a_note(qemu: FakeQemu) -> None:
    vb = VolumeBitmaps(qemu, "cp-2", "cp-1")  # type: ignore[arg-type]
    disk = vb.prepare(["vdb"])["vdb"]
    assert disk.parent_bitmap is None and "no dirty bitmap since checkpoint cp-1" in disk.note
    assert vb.changed_extents("vdb", "/sock") is None
    assert qemu.bitmaps["node-b"] == {bitmap_name("cp-2"): True}  # tracked from now on


def test_failed_backup_removes_only_its_new_bitmap(qemu: FakeQemu) -> None:
    # a dead attempt's new bitmap and its copy of the parent's
    dead = {bitmap_name("cp-2"): True, f"{bitmap_name('cp-1')}:read": False}
    qemu.bitmaps["node-b"] = {bitmap_name("cp-1"): True, **dead}
    vb = VolumeBitmaps(qemu, "cp-2", "cp-1")  # type: ignore[arg-type]
    vb.prepare(["vdb"])
    assert qemu.log.count("block-dirty-bitmap-remove") == 2  # the dead attempt's, then added afresh
    assert set(qemu.bitmaps["node-b"]) == {bitmap_name("cp-1"), bitmap_name("cp-2")}
    vb.close()
    assert qemu.bitmaps["node-b"] == {bitmap_name("cp-1"): True}


def test_reading_the_bitmap_fails_then_the_disk_is_read_in_full(
    qemu: FakeQemu, monkeypatch: pytest.MonkeyPatch
) -> None:
    qemu.bitmaps["node-b"] = {bitmap_name("cp-1"): True}
    qemu.fail["block-export-add"] = "Permission conflict on node 'node-b'"
    vb = VolumeBitmaps(qemu, "cp-2", "cp-1")  # type: ignore[arg-type]
    vb.prepare(["vdb"])
    assert vb.changed_extents("vdb", "/sock") is None
    assert "Permission conflict" in vb.notes()["vdb"]
    assert set(qemu.bitmaps["node-b"]) == {bitmap_name("cp-1"), bitmap_name("cp-2")}  # no copy left


def test_no_monitor_leaves_every_raw_disk_untracked(qemu: FakeQemu) -> None:
    qemu.fail["query-block"] = "The command query-block has not been found"
    vb = VolumeBitmaps(qemu, "cp-2", "cp-1")  # type: ignore[arg-type]
    disks = vb.prepare(["vdb"])
    assert disks["vdb"].node == "" and "dirty bitmaps unavailable" in disks["vdb"].note
    vb.close()
    assert qemu.log == ["query-block"]


def test_a_busy_bitmap_is_removed_once_its_export_let_go(qemu: FakeQemu) -> None:
    qemu.bitmaps["node-b"] = {"b": True}
    qemu.busy_left = 2
    vb = VolumeBitmaps(qemu, "cp-1", None)  # type: ignore[arg-type]
    assert vb._remove("node-b", "b")
    assert qemu.bitmaps["node-b"] == {} and qemu.log.count("busy") == 2


class AllocatedNbd:
    size = 8 << 20

    def extents(self, context: str, wanted: int, match: int) -> list[tuple[int, int]]:
        assert context == "base:allocation"
        return [(0, 4 << 20)]

    def close(self) -> None:
        pass


def test_disk_source_with_given_changes_is_incremental_and_reads_only_them() -> None:
    disk = DomainDisk("vdb", "/v", "file", "raw", AllocatedNbd.size)
    changed = [(1 << 20, 65536), (6 << 20, 65536)]
    src = LibvirtDiskSource("vm", disk, AllocatedNbd(), None, None, changed, "")  # type: ignore[arg-type]
    assert src.incremental and src.changed_extents() == changed
    assert src._blocks_to_read(1 << 20) == [1]  # changed and allocated (block 6 reads as zero)
    full = LibvirtDiskSource("vm", disk, AllocatedNbd(), None, None, None, "lost")  # type: ignore[arg-type]
    assert not full.incremental and full.changed_extents() == [(0, 4 << 20)] and full.note == "lost"
