"""The vault as callers open it: a store, its archive, and the streaming backup and restore.

The repository is split the way borg splits repository, key and archive:

- store.py (``Store``, which ``Repository`` is): the objects, the ``config`` object, the keys, the
  codecs and the chunk-level calls; it knows nothing of snapshots.
- archive.py (``Repository.archive``): snapshots, disk manifests, workload documents.
- backup.py / restore.py: the streaming backup from any block source and restore into any block
  writer, with leases, commit order and checksums; gc.py and verify.py: maintenance.

Object layout (docs/vault-format.md is the full description)::

    config                                   format, chunk size, keys (clear or password-wrapped)
    data/<2 hex>/<64 hex>                    packs of blobs (packs.py; blobs are chunk objects, chunks.py)
    index/<64 hex>                           which pack holds each blob (index.py)
    chunks/<2 hex>/<64 hex>                  format version 1: one object per blob (still read)
    snapshots/<snapshot_id>/snapshot.json    snapshot document (workload id, caller metadata)
    snapshots/<snapshot_id>/disks/<disk_id>.json   disk manifests (manifest.py)
    workloads/<workload_id>.json             workload documents given by the caller
    keys/<workload_id>                       a workload's own key, wrapped by its secret (keys.py)
    locks/<kind>-<id>.json                   leases of running backups, commits and gc (leases.py)
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from typing import Any

from t4o.vault import backup, restore
from t4o.vault import gc as gc_mod
from t4o.vault import verify as verify_mod
from t4o.vault.archive import Archive
from t4o.vault.backend import Backend
from t4o.vault.errors import InvalidArgument
from t4o.vault.keys import RepoKeys
from t4o.vault.manifest import Manifest
from t4o.vault.progress import ProgressCallback
from t4o.vault.store import Store


class Repository(Store):
    """An open repository. Create one with ``Repository.init`` or ``Repository.open``."""

    def __init__(self, backend: Backend, config: dict[str, Any], keys: RepoKeys):
        super().__init__(backend, config, keys)
        self.archive = Archive(self)

    def info(self) -> dict[str, Any]:
        packs = stored = legacy = 0
        for obj in self.list_packs():
            packs += 1
            stored += obj.size
        for obj in self.list_legacy_chunks():
            legacy += 1
            stored += obj.size
        return {
            "chunks": len(self.reload_index()) + legacy,
            "packs": packs,
            "stored_bytes": stored,
            **self.settings(),
            "workloads": len(self.list_workloads()),
            "snapshots": len(self.list_snapshots()),
        }

    # -- backup and restore (the streaming functions, for a path or an object) -----------------

    def backup_disk(
        self,
        source: str | os.PathLike[str] | Any,
        disk_id: str,
        parent: str | None = None,
        changed_extents: Iterable[tuple[int, int]] | None = None,
        progress: ProgressCallback | None = None,
        *,
        snapshot_id: str | None = None,
        workload_id: str = "default",
        fmt: str | None = None,
        encrypt: bool | None = None,
        metadata: dict[str, Any] | None = None,
        tmpdir: str | None = None,
    ) -> Manifest:
        """Back up one disk from a path or a source object: see ``backup.backup_source``."""
        return backup.backup_source(
            self, source, disk_id, parent, changed_extents, progress,
            snapshot_id=snapshot_id, workload_id=workload_id, fmt=fmt, encrypt=encrypt,
            metadata=metadata, tmpdir=tmpdir,
        )  # fmt: skip

    def restore_disk(
        self,
        snapshot_id: str,
        target: str | os.PathLike[str] | Any,
        fmt: str = "raw",
        progress: ProgressCallback | None = None,
        disk_id: str | None = None,
    ) -> Manifest:
        """Write the disk to ``target``, verifying every block: a path (file or block device, raw or
        qcow2) or a block writer object (raw; see ``restore.restore_to_writer``)."""
        if isinstance(target, str | os.PathLike):
            return restore.restore_to_path(self, snapshot_id, target, fmt, progress, disk_id)
        if fmt != "raw":
            raise InvalidArgument("a writer object receives raw data: restore to it with fmt='raw'")
        return restore.restore_to_writer(self, snapshot_id, target, progress, disk_id)

    export = restore_disk

    def disk_checksum(self, m: Manifest, source: Any) -> str:
        """The checksum of what ``source`` holds now, to compare with ``m.checksum`` after a restore."""
        return restore.disk_checksum(self, m, source)

    def read_range(self, snapshot_id: str, offset: int, length: int, disk_id: str | None = None) -> bytes:
        return restore.read_range(self, self.get_manifest(snapshot_id, disk_id), offset, length)

    # -- the archive side ----------------------------------------------------------------------

    def get_manifest(self, ref: str, disk_id: str | None = None) -> Manifest:
        return self.archive.get_manifest(ref, disk_id)

    def list_disks(self, snapshot_id: str) -> list[str]:
        return self.archive.list_disks(snapshot_id)

    def list_snapshots(self, workload_id: str | None = None) -> list[dict[str, Any]]:
        return self.archive.list_snapshots(workload_id)

    def list_workloads(self) -> list[str]:
        return self.archive.list_workloads()

    def get_snapshot(self, snapshot_id: str) -> dict[str, Any]:
        return self.archive.get_snapshot(snapshot_id)

    def put_snapshot_metadata(
        self, snapshot_id: str, doc: dict[str, Any], workload_id: str = "default"
    ) -> None:
        self.archive.put_snapshot_metadata(snapshot_id, doc, workload_id)

    def put_workload(self, workload_id: str, doc: dict[str, Any]) -> None:
        self.archive.put_workload(workload_id, doc)

    def get_workload(self, workload_id: str) -> dict[str, Any]:
        return self.archive.get_workload(workload_id)

    def delete_snapshot(self, snapshot_id: str, disk_id: str | None = None) -> list[str]:
        return self.archive.delete_snapshot(snapshot_id, disk_id)

    def lock_snapshot(self, snapshot_id: str, until: dt.datetime) -> None:
        self.archive.lock_snapshot(snapshot_id, until)

    # -- maintenance ---------------------------------------------------------------------------

    def gc(self, grace: float = 3600.0, dry_run: bool = False) -> gc_mod.GcReport:
        """Remove chunks no manifest references (see gc.py for how it avoids running backups)."""
        return gc_mod.collect(self, grace=grace, stale_after=self.stale_after, dry_run=dry_run)

    def verify(
        self,
        snapshot_id: str | None = None,
        read_data: bool = False,
        progress: ProgressCallback | None = None,
    ) -> verify_mod.VerifyReport:
        """Check the disks of one snapshot (or of all) for missing or damaged chunks."""
        self.reload_index()  # what is stored now, not what this object saw earlier
        return verify_mod.verify(self, self.archive.manifests(snapshot_id), read_data, progress)
