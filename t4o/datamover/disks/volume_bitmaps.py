"""Dirty bitmaps for a running domain's raw disks (attached Cinder volumes), kept in QEMU's memory.

libvirt checkpoints need qcow2 (the bitmap is stored in the image), and an NFS Cinder volume is a raw
file. QEMU can still track writes to any block node in a non-persistent bitmap; libvirt has no API for
one, so this module speaks QMP through ``virDomainQemuMonitorCommand`` (libvirt then marks the domain
"tainted: custom-monitor" in its log; nothing else changes). For each raw disk of a backup:

1. before the backup begins, a bitmap named after the new checkpoint (``t4o-dirty:<checkpoint>``) is added
   on the disk's top node: it records every write from before the point in time on;
2. after the point is taken, the parent's bitmap (added the same way by the previous snapshot, so it
   holds every write since before that snapshot's point) is copied into a disabled bitmap, exported on
   the backup job's NBD server and read as ``qemu:dirty-bitmap:*`` block status: the changed extents.
   Writes made after the point show there too: a superset, read for nothing but never missed;
3. ``commit`` removes the older ``t4o-dirty:*`` bitmaps; ``close`` without a commit removes the new one,
   so the parent's bitmap still covers everything for the next attempt.

The bitmaps live as long as the QEMU process and its disk node: a stop/start, a migration or a volume
re-attached since the parent snapshot lose them. The parent's bitmap is then missing and the disk is read
where allocated, with the reason recorded (``note``); the next snapshot builds on the new bitmap again.
"""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import libvirt
from oslo_log import log as logging

from t4o.datamover.disks.errors import DiskError, NbdError
from t4o.datamover.disks.nbd import STATE_DIRTY, NbdClient
from t4o.datamover.disks.protocol import Extent

LOG = logging.getLogger(__name__)

BITMAP_PREFIX = "t4o-dirty:"
#: the granularity of the root disks' qcow2 bitmaps (64 KiB clusters): the same read amplification
GRANULARITY = 64 * 1024
#: how long a bitmap may stay busy after its export is deleted (the export ends asynchronously)
BUSY_TIMEOUT = 10.0


class QmpError(DiskError):
    """QEMU refused a QMP command (or libvirt could not pass it on)."""


def bitmap_name(checkpoint: str) -> str:
    return f"{BITMAP_PREFIX}{checkpoint}"


def copy_name(bitmap: str) -> str:
    """The disabled copy of ``bitmap`` that is exported for reading."""
    return f"{bitmap}:read"


def qmp(dom: libvirt.virDomain, command: str, **arguments: Any) -> Any:
    """One QMP command through libvirt; its ``return`` value."""
    import libvirt_qemu  # the QEMU-specific part of the binding: only needed here

    request = json.dumps({"execute": command, "arguments": arguments})
    try:
        reply = json.loads(libvirt_qemu.qemuMonitorCommand(dom, request, 0))
    except libvirt.libvirtError as exc:
        raise QmpError(f"QMP {command}: {exc.get_error_message()}") from exc
    if "error" in reply:
        raise QmpError(f"QMP {command}: {reply['error'].get('desc', reply['error'])}")
    return reply.get("return")


def disk_aliases(domain_xml: str) -> dict[str, str]:
    """Target -> libvirt alias (QEMU's device id) of each disk of a running domain."""
    out = {}
    for disk in ET.fromstring(domain_xml).findall("./devices/disk"):
        target, alias = disk.find("target"), disk.find("alias")
        if target is not None and alias is not None and target.get("dev") and alias.get("name"):
            out[str(target.get("dev"))] = str(alias.get("name"))
    return out


@dataclass
class NodeState:
    """What QEMU's ``query-block`` says of the node a device writes through."""

    node: str
    bitmaps: dict[str, dict[str, Any]]


def device_nodes(dom: libvirt.virDomain) -> dict[str, NodeState]:
    """Device id (libvirt alias) -> top block node of each disk with a medium, and its bitmaps."""
    out = {}
    for dev in qmp(dom, "query-block") or []:
        inserted = dev.get("inserted")
        qdev = str(dev.get("qdev") or "")
        if not inserted or not qdev.startswith("/machine/peripheral/"):
            continue
        alias = qdev.removeprefix("/machine/peripheral/").split("/")[0]
        # a backup job's own bitmaps have no name
        bitmaps = {b["name"]: b for b in inserted.get("dirty-bitmaps") or [] if b.get("name")}
        out[alias] = NodeState(str(inserted["node-name"]), bitmaps)
    return out


@dataclass
class TrackedDisk:
    target: str
    node: str
    #: the parent's bitmap, when it exists and covers every change since the parent's point
    parent_bitmap: str | None
    #: why the changes since the parent are not known (empty when they are, or without a parent)
    note: str = ""


class VolumeBitmaps:
    """The non-persistent bitmaps of one backup's raw disks (see the module's docstring)."""

    def __init__(self, dom: libvirt.virDomain, checkpoint: str, parent: str | None) -> None:
        self._dom = dom
        self._domain = dom.name()
        self.checkpoint = checkpoint
        self.parent = parent
        self.disks: dict[str, TrackedDisk] = {}
        self._added = False
        self._committed = False

    def prepare(self, targets: list[str]) -> dict[str, TrackedDisk]:
        """Before the backup begins: find each disk's node and the parent's bitmap on it, and start the new
        bitmap. A disk QMP cannot track is left out (read in full, with ``notes()`` saying why)."""
        if not targets:
            return {}
        new = bitmap_name(self.checkpoint)
        try:
            aliases = disk_aliases(self._dom.XMLDesc(0))
            nodes = device_nodes(self._dom)
        except (QmpError, ET.ParseError) as exc:
            self._untracked(targets, f"dirty bitmaps unavailable ({exc})")
            return self.disks
        for target in targets:
            state = nodes.get(aliases.get(target, ""))
            if state is None:
                self._untracked([target], "no QEMU block node found for it")
                continue
            parent_bitmap = bitmap_name(self.parent) if self.parent else None
            note = ""
            if parent_bitmap and parent_bitmap not in state.bitmaps:
                note = (
                    f"{target}: no dirty bitmap since checkpoint {self.parent} (lost when QEMU restarted "
                    "or the volume was re-attached): read where allocated"
                )
                parent_bitmap = None
            try:
                # left by an attempt that died: a new bitmap of this name starts afresh, a stale copy goes
                for stale in (new, copy_name(parent_bitmap) if parent_bitmap else None):
                    if stale in state.bitmaps:
                        qmp(self._dom, "block-dirty-bitmap-remove", node=state.node, name=stale)
                qmp(
                    self._dom, "block-dirty-bitmap-add",
                    node=state.node, name=new, granularity=GRANULARITY, persistent=False,
                )  # fmt: skip
            except QmpError as exc:
                self._untracked([target], f"its dirty bitmap could not be added ({exc})")
                continue
            self._added = True
            self.disks[target] = TrackedDisk(target, state.node, parent_bitmap, note)
        return self.disks

    def _untracked(self, targets: list[str], why: str) -> None:
        for target in targets:
            note = f"{target}: {why}: read where allocated"
            LOG.warning("domain %s: %s", self._domain, note)
            self.disks[target] = TrackedDisk(target, "", None, note)

    def changed_extents(self, target: str, socket_path: str) -> list[Extent] | None:
        """After the point was taken: the ranges written since the parent's point (a superset), read from
        a disabled copy of the parent's bitmap exported on the backup's NBD server. None when unknown
        (no parent bitmap, or reading it failed: the reason goes into the disk's note)."""
        disk = self.disks.get(target)
        if disk is None or disk.parent_bitmap is None:
            return None
        copy, export = copy_name(disk.parent_bitmap), f"t4o-bitmap-{target}"
        try:
            qmp(
                self._dom, "transaction",
                actions=[
                    {"type": "block-dirty-bitmap-add", "data": {
                        "node": disk.node, "name": copy, "granularity": GRANULARITY,
                        "persistent": False, "disabled": True}},
                    {"type": "block-dirty-bitmap-merge", "data": {
                        "node": disk.node, "target": copy, "bitmaps": [disk.parent_bitmap]}},
                ],
            )  # fmt: skip
            try:
                qmp(
                    self._dom, "block-export-add",
                    type="nbd", id=export, **{"node-name": disk.node}, name=export, writable=False,
                    bitmaps=[copy],
                )  # fmt: skip
                try:
                    context = f"qemu:dirty-bitmap:{copy}"
                    with NbdClient.connect_unix(socket_path, export, (context,)) as client:
                        return client.extents(context, STATE_DIRTY, STATE_DIRTY)
                finally:
                    qmp(self._dom, "block-export-del", id=export, mode="hard")
            finally:
                self._remove(disk.node, copy)
        except (QmpError, NbdError) as exc:
            disk.note = f"{target}: reading its dirty bitmap failed ({exc}): read where allocated"
            LOG.warning("domain %s: %s", self._domain, disk.note)
            return None

    def notes(self) -> dict[str, str]:
        return {t: d.note for t, d in self.disks.items() if d.note}

    def commit(self) -> list[str]:
        """The snapshot is stored: only the new bitmap is needed from now on; the others of ours go."""
        removed = []
        new = bitmap_name(self.checkpoint)
        nodes = {d.node for d in self.disks.values() if d.node}
        try:
            states = {s.node: s for s in device_nodes(self._dom).values()}
        except QmpError as exc:
            LOG.warning("domain %s: listing dirty bitmaps: %s", self._domain, exc)
            states = {}
        for node in sorted(nodes):
            # the node may sit under the backup job's filter now: look it up by name, not by device
            names = states[node].bitmaps if node in states else self._node_bitmaps(node)
            for name in names:
                if name.startswith(BITMAP_PREFIX) and name != new and self._remove(node, name):
                    removed.append(name)
        self._committed = True
        if removed:
            LOG.info("domain %s: older volume bitmaps removed: %s", self._domain, ", ".join(removed))
        return removed

    def _node_bitmaps(self, node: str) -> list[str]:
        try:
            for n in qmp(self._dom, "query-named-block-nodes", flat=True) or []:
                if n.get("node-name") == node:
                    return [b["name"] for b in n.get("dirty-bitmaps") or [] if b.get("name")]
        except QmpError as exc:
            LOG.warning("domain %s: listing the bitmaps of node %s: %s", self._domain, node, exc)
        return []

    def close(self) -> None:
        """Without a commit, the new bitmaps go again (the parent's still covers every change)."""
        if not self._added or self._committed:
            return
        new = bitmap_name(self.checkpoint)
        for disk in self.disks.values():
            if disk.node:
                self._remove(disk.node, new)
        self._added = False

    def _remove(self, node: str, name: str) -> bool:
        """Remove a bitmap, waiting while an export that is ending still holds it."""
        deadline = time.monotonic() + BUSY_TIMEOUT
        while True:
            try:
                qmp(self._dom, "block-dirty-bitmap-remove", node=node, name=name)
                return True
            except QmpError as exc:
                # QEMU: "Bitmap '...' is currently in use by another operation and cannot be used"
                if "in use" in str(exc).lower() and time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                if "not found" not in str(exc).lower():
                    LOG.warning("domain %s: removing bitmap %s: %s", self._domain, name, exc)
                return False
