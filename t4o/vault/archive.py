"""The repository's archive side: snapshots, their disk manifests, and the caller's documents.

What borg calls archives: everything under ``snapshots/`` and ``workloads/`` (docs/vault-format.md).
It reads and writes them through the store (store.py), which seals documents in a password-protected
repository; it never touches chunk objects except to lock the ones a snapshot names.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Any

from t4o.vault.backend import ObjectNotFound
from t4o.vault.chunks import chunk_key
from t4o.vault.errors import CorruptRepository, SnapshotNotFound, WorkloadKeyError
from t4o.vault.manifest import Manifest, check_id, manifest_key, snapshot_doc_key
from t4o.vault.packs import pack_key
from t4o.vault.store import Store

LOG = logging.getLogger(__name__)


def new_snapshot_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(4)


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class Archive:
    """Snapshots, manifests and workload documents of one repository."""

    def __init__(self, store: Store):
        self.store = store
        self.backend = store.backend

    # -- manifests -----------------------------------------------------------------------------

    def split_ref(self, ref: str, disk_id: str | None = None) -> tuple[str, str]:
        """``<snapshot_id>/<disk_id>``, or a snapshot id alone when the snapshot has one disk."""
        if "/" in ref:
            sid, did = ref.split("/", 1)
        else:
            sid, did = ref, disk_id or ""
            if not did:
                disks = self.list_disks(sid)
                if len(disks) != 1:
                    raise SnapshotNotFound(
                        f"snapshot {sid} has {len(disks)} disks; name one as {sid}/<disk_id>"
                        if disks
                        else f"no snapshot {sid}"
                    )
                did = disks[0]
        check_id("snapshot id", sid)
        check_id("disk id", did)
        return sid, did

    def has_manifest(self, snapshot_id: str, disk_id: str) -> bool:
        return self.backend.exists(manifest_key(snapshot_id, disk_id))

    def get_manifest(self, ref: str, disk_id: str | None = None) -> Manifest:
        sid, did = self.split_ref(ref, disk_id)
        key = manifest_key(sid, did)
        try:
            m = Manifest.from_bytes(self.backend.get(key), key)
        except ObjectNotFound:
            raise SnapshotNotFound(f"no disk {did} in snapshot {sid}") from None
        m.metadata = self.store.unseal(key, m.metadata)
        return m

    def put_manifest(self, m: Manifest) -> None:
        """Write a manifest as it is (its metadata already sealed): the commit point of a backup."""
        self.backend.put(manifest_key(m.snapshot_id, m.disk_id), m.to_bytes())

    def seal_metadata(
        self, snapshot_id: str, disk_id: str, metadata: dict[str, Any], workload_id: str | None = None
    ) -> Any:
        return self.store.seal(manifest_key(snapshot_id, disk_id), metadata, workload_id)

    def manifests(self, snapshot_id: str | None = None) -> list[tuple[str, Manifest | Exception]]:
        """The manifests of one disk (``<snapshot>/<disk>``), one snapshot or all, each with its key;
        one that cannot be read is given as the error (metadata is left sealed: for checks only)."""
        if snapshot_id is not None and "/" in snapshot_id:
            sid, did = snapshot_id.split("/", 1)
            keys = [manifest_key(sid, did)]
            if not self.backend.exists(keys[0]):
                raise SnapshotNotFound(f"no disk {did} in snapshot {sid}")
        elif snapshot_id is not None:
            keys = [manifest_key(snapshot_id, d) for d in self.list_disks(snapshot_id)]
            if not keys:
                raise SnapshotNotFound(f"no snapshot {snapshot_id}")
        else:
            keys = sorted(i.key for i in self.backend.list("snapshots/") if "/disks/" in i.key)
        loaded: list[tuple[str, Manifest | Exception]] = []
        for key in keys:
            try:
                loaded.append((key, Manifest.from_bytes(self.backend.get(key), key)))
            except (CorruptRepository, ObjectNotFound) as exc:
                loaded.append((key, exc))
        return loaded

    # -- snapshot and workload documents -------------------------------------------------------

    def ensure_snapshot_doc(self, snapshot_id: str, workload_id: str, created: str) -> None:
        """A first disk of a snapshot names its workload; the caller's metadata comes later."""
        key = snapshot_doc_key(snapshot_id)
        if not self.backend.exists(key):
            doc = {"snapshot_id": snapshot_id, "workload_id": workload_id, "created": created}
            self.store.put_doc(key, {**doc, "metadata": {}}, workload_id)

    def put_snapshot_metadata(
        self, snapshot_id: str, doc: dict[str, Any], workload_id: str = "default"
    ) -> None:
        check_id("snapshot id", snapshot_id)
        check_id("workload id", workload_id)
        body = {"snapshot_id": snapshot_id, "workload_id": workload_id, "created": now_iso(), "metadata": doc}
        self.store.put_doc(snapshot_doc_key(snapshot_id), body, workload_id)

    def _snapshot_doc(self, snapshot_id: str) -> dict[str, Any]:
        try:
            return self.store.get_doc(snapshot_doc_key(snapshot_id))
        except ObjectNotFound:
            return {"snapshot_id": snapshot_id, "workload_id": None, "metadata": {}}
        except WorkloadKeyError as exc:
            # Listed without its contents: they are sealed with a workload key nobody unlocked.
            return {
                "snapshot_id": snapshot_id,
                "workload_id": exc.workload_id,
                "metadata": {},
                "locked": True,
            }

    def get_snapshot(self, snapshot_id: str) -> dict[str, Any]:
        """The snapshot document plus ``disks``; SnapshotNotFound unless a disk manifest exists."""
        disks = self.list_disks(snapshot_id)
        if not disks:
            raise SnapshotNotFound(f"no snapshot {snapshot_id}")
        doc = self._snapshot_doc(snapshot_id)
        doc["disks"] = disks
        return doc

    def put_workload(self, workload_id: str, doc: dict[str, Any]) -> None:
        self.store.put_doc(f"workloads/{check_id('workload id', workload_id)}.json", doc, workload_id)

    def get_workload(self, workload_id: str) -> dict[str, Any]:
        try:
            return self.store.get_doc(f"workloads/{check_id('workload id', workload_id)}.json")
        except ObjectNotFound:
            raise SnapshotNotFound(f"no workload document for {workload_id}") from None

    # -- listing -------------------------------------------------------------------------------

    def list_disks(self, snapshot_id: str) -> list[str]:
        check_id("snapshot id", snapshot_id)
        prefix = f"snapshots/{snapshot_id}/disks/"
        return sorted(
            i.key[len(prefix) : -len(".json")] for i in self.backend.list(prefix) if i.key.endswith(".json")
        )

    def list_snapshots(self, workload_id: str | None = None) -> list[dict[str, Any]]:
        """Snapshots that have at least one disk manifest, oldest first."""
        with_disks: dict[str, list[str]] = {}
        for info in self.backend.list("snapshots/"):
            parts = info.key.split("/")
            if len(parts) == 4 and parts[2] == "disks" and parts[3].endswith(".json"):
                with_disks.setdefault(parts[1], []).append(parts[3][: -len(".json")])
        out = []
        for sid, disks in with_disks.items():
            doc = self._snapshot_doc(sid)
            if workload_id is not None and doc.get("workload_id") != workload_id:
                continue
            doc["disks"] = sorted(disks)
            out.append(doc)
        return sorted(out, key=lambda d: (str(d.get("created")), d["snapshot_id"]))

    def list_workloads(self) -> list[str]:
        ids = {i.key[len("workloads/") : -len(".json")] for i in self.backend.list("workloads/")}
        ids.update(str(s["workload_id"]) for s in self.list_snapshots() if s.get("workload_id"))
        return sorted(ids)

    def stored_ids(self) -> tuple[set[str], set[str]]:
        """Workload and snapshot ids on the target, from the keys of their documents and manifests alone
        (no chunk is listed, no document read): what a reconcile with the database needs."""
        workloads = {
            k[len("workloads/") : -len(".json")]
            for k in self.backend.list_keys("workloads/")
            if k.endswith(".json")
        }
        snapshots = {k.split("/")[1] for k in self.backend.list_keys("snapshots/") if k.count("/") >= 2}
        return workloads, snapshots

    # -- retention -----------------------------------------------------------------------------

    def delete_snapshot(self, snapshot_id: str, disk_id: str | None = None) -> list[str]:
        """Delete a snapshot (or one disk of it); chunks go at the next gc. Returns the disks deleted."""
        if "/" in snapshot_id:
            snapshot_id, disk_id = snapshot_id.split("/", 1)
        disks = self.list_disks(snapshot_id)
        if disk_id is not None:
            if disk_id not in disks:
                raise SnapshotNotFound(f"no disk {disk_id} in snapshot {snapshot_id}")
            disks = [disk_id]
        elif not disks:
            raise SnapshotNotFound(f"no snapshot {snapshot_id}")
        for did in disks:
            self.backend.delete(manifest_key(snapshot_id, did))
        if not self.list_disks(snapshot_id):
            self.backend.delete(snapshot_doc_key(snapshot_id))
        LOG.info("deleted snapshot %s disks %s", snapshot_id, ", ".join(disks))
        return disks

    def delete_workload(self, workload_id: str) -> bool:
        """Delete the workload document (its snapshots are deleted one by one before) and, once none of
        its snapshots is left, its own key; False if there was no document."""
        key = f"workloads/{check_id('workload id', workload_id)}.json"
        if self.store.has_workload_key(workload_id) and not self.list_snapshots(workload_id):
            self.store.delete_workload_key(workload_id)
        if not self.backend.exists(key):
            return False
        self.backend.delete(key)
        LOG.info("deleted workload document %s", workload_id)
        return True

    def snapshot_locked_until(self, snapshot_id: str) -> dt.datetime | None:
        """The latest object-lock date of the snapshot's manifests and document (what a delete removes),
        or None when none of them is locked now (backends without object lock: always None)."""
        keys = [manifest_key(snapshot_id, did) for did in self.list_disks(snapshot_id)]
        if self.backend.exists(snapshot_doc_key(snapshot_id)):
            keys.append(snapshot_doc_key(snapshot_id))
        now = dt.datetime.now(dt.UTC)
        dates = [d for d in (self.backend.locked_until(k) for k in keys) if d is not None and d > now]
        return max(dates, default=None)

    def lock_snapshot(self, snapshot_id: str, until: dt.datetime) -> None:
        """Make the snapshot immutable until ``until`` (backends with object lock only)."""
        index = self.store.reload_index()
        for did in self.list_disks(snapshot_id):
            m = self.get_manifest(snapshot_id, did)
            # Every pack holding one of its blobs (gc leaves locked packs whole), or the blob's own
            # object in a repository upgraded from format version 1.
            keys = set()
            for cid in m.blob_ids():
                found = index.find(cid)
                keys.add(pack_key(found.pack) if found is not None else chunk_key(cid))
            for key in sorted(keys):
                self.backend.lock_until(key, until)
            self.backend.lock_until(manifest_key(snapshot_id, did), until)
        if self.backend.exists(snapshot_doc_key(snapshot_id)):
            self.backend.lock_until(snapshot_doc_key(snapshot_id), until)
