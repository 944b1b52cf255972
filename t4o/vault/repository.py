"""The vault repository: configuration, keys, and the operations on disk snapshots.

Object layout (docs/vault-format.md is the full description)::

    config                                   format, chunk size, keys (clear or password-wrapped)
    chunks/<2 hex>/<64 hex>                  chunk objects (chunks.py)
    snapshots/<snapshot_id>/snapshot.json    snapshot document (workload id, caller metadata)
    snapshots/<snapshot_id>/disks/<disk_id>.json   disk manifests (manifest.py)
    workloads/<workload_id>.json             workload documents given by the caller
    locks/<kind>-<id>.json                   leases of running backups, commits and gc (leases.py)
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import secrets
from collections.abc import Iterable
from typing import Any

from t4o.vault import gc as gc_mod
from t4o.vault import restore as restore_mod
from t4o.vault import verify as verify_mod
from t4o.vault.backend import Backend, ObjectNotFound
from t4o.vault.backup import backup_disk
from t4o.vault.chunks import ZSTD_LEVEL, ChunkCodec, chunk_key
from t4o.vault.commit import commit
from t4o.vault.errors import (
    CorruptRepository,
    InvalidArgument,
    PasswordRequired,
    RepositoryExists,
    RepositoryNotFound,
    SnapshotNotFound,
)
from t4o.vault.keys import RepoKeys, is_sealed, seal, unseal, unwrap_keys, wrap_keys
from t4o.vault.leases import STALE_AFTER, Lease, wait_for_no_gc
from t4o.vault.manifest import Manifest, check_id, manifest_key, snapshot_doc_key
from t4o.vault.progress import ProgressCallback
from t4o.vault.source import open_source

LOG = logging.getLogger(__name__)
CONFIG_KEY = "config"
FORMAT = "t4o-vault"
VERSION = 1
DEFAULT_CHUNK_SIZE = 1024 * 1024
MIN_CHUNK, MAX_CHUNK = 64 * 1024, 16 * 1024 * 1024


def new_snapshot_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(4)


class Repository:
    """An open repository. Create one with ``Repository.init`` or ``Repository.open``."""

    def __init__(self, backend: Backend, config: dict[str, Any], keys: RepoKeys):
        self.backend = backend
        self.config = config
        self.keys = keys
        self.chunk_size: int = int(config["chunk_size"])
        self.compression_level: int = int(config.get("compression_level", ZSTD_LEVEL))
        self.password_protected = config.get("encryption") == "password"
        self.stale_after = STALE_AFTER
        # Threads per backup/restore. Twice the two cores: while some wait on fsync or the network,
        # the others hash and compress (both release the GIL). Measured: about 25% faster than 2.
        self.workers = 4

    # -- creation and opening ------------------------------------------------------------------

    @classmethod
    def init(
        cls,
        backend: Backend,
        password: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        compression_level: int = ZSTD_LEVEL,
    ) -> Repository:
        if chunk_size < MIN_CHUNK or chunk_size > MAX_CHUNK or chunk_size & (chunk_size - 1):
            raise InvalidArgument(f"chunk size {chunk_size} must be a power of two from 64 KiB to 16 MiB")
        if not 1 <= compression_level <= 19:
            raise InvalidArgument(f"zstd level {compression_level} must be from 1 to 19")
        if backend.exists(CONFIG_KEY):
            raise RepositoryExists(f"{backend.url} already holds a repository")
        keys = RepoKeys.generate()
        config: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "id": secrets.token_hex(16),
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "chunk_size": chunk_size,
            "chunk_id": "blake3-keyed",
            "compression": "zstd",
            "compression_level": compression_level,
        }
        if password:
            config["encryption"] = "password"
            config.update(wrap_keys(keys, password))
        else:
            config["encryption"] = "none"
            config["keys"] = keys.to_json()
        backend.put(CONFIG_KEY, json.dumps(config, indent=1).encode())
        LOG.info("created repository %s (chunk size %d, %s)", backend.url, chunk_size, config["encryption"])
        return cls(backend, config, keys)

    @classmethod
    def open(cls, backend: Backend, password: str | None = None) -> Repository:
        try:
            raw = backend.get(CONFIG_KEY)
        except ObjectNotFound:
            raise RepositoryNotFound(f"no repository at {backend.url} (run init first)") from None
        try:
            config = json.loads(raw)
            if config.get("format") != FORMAT:
                raise ValueError("not a t4o vault config")
            if config.get("version") != VERSION:
                raise ValueError(f"unsupported version {config.get('version')}")
            int(config["chunk_size"])
        except (ValueError, KeyError, TypeError) as exc:
            raise CorruptRepository(f"repository config at {backend.url} is damaged ({exc})") from None
        if config.get("encryption") == "password":
            if not password:
                raise PasswordRequired(f"repository {backend.url} is password-protected: give its password")
            keys = unwrap_keys(config, password)
        else:
            keys = RepoKeys.from_json(config.get("keys") or {})
        return cls(backend, config, keys)

    def info(self) -> dict[str, Any]:
        snapshots = self.list_snapshots()
        chunks = stored = 0
        for obj in self.backend.list("chunks/"):
            chunks += 1
            stored += obj.size
        return {
            "chunks": chunks,
            "stored_bytes": stored,
            "url": self.backend.url,
            "id": self.config["id"],
            "format": f"{FORMAT} v{VERSION}",
            "created": self.config["created"],
            "chunk_size": self.chunk_size,
            "compression_level": self.compression_level,
            "encryption": self.config["encryption"],
            "workloads": len(self.list_workloads()),
            "snapshots": len(snapshots),
        }

    # -- keys ----------------------------------------------------------------------------------

    def _codec(self, workload_id: str, encrypted: bool) -> ChunkCodec:
        if not encrypted:
            return ChunkCodec(self.keys.id_key, level=self.compression_level)
        id_key, enc_key = self.keys.workload_keys(workload_id)
        return ChunkCodec(id_key, enc_key, level=self.compression_level)

    def codec_for(self, m: Manifest) -> ChunkCodec:
        return self._codec(m.workload_id, m.encrypted)

    # -- backup --------------------------------------------------------------------------------

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
        """Back up one disk; returns its manifest (``.ref`` names it for restore and as a parent).

        ``source`` is a path (file or block device, raw or qcow2) or an object with ``size`` and
        ``read(offset, length)`` (optionally ``data_extents()``, ``path``, ``format``).

        ``parent`` is a disk reference (``<snapshot_id>/<disk_id>``) of an earlier backup of this disk.
        With ``changed_extents`` only those byte ranges are read and the other blocks are taken from the
        parent; without, the whole disk is read and only chunks not yet stored are written.
        Encryption defaults to on in a password-protected repository.
        """
        check_id("disk id", disk_id)
        check_id("workload id", workload_id)
        snapshot_id = check_id("snapshot id", snapshot_id) if snapshot_id else new_snapshot_id()
        if encrypt is None:
            encrypt = self.password_protected
        if encrypt and not self.password_protected:
            raise InvalidArgument("encryption needs a password-protected repository (init with a password)")
        if self.backend.exists(manifest_key(snapshot_id, disk_id)):
            raise InvalidArgument(f"snapshot {snapshot_id} already has a disk {disk_id}")
        parent_m = self.get_manifest(parent) if parent else None
        if parent_m is not None:
            if parent_m.chunk_size != self.chunk_size:
                raise InvalidArgument(f"parent {parent} has another chunk size")
            same_keys = parent_m.encrypted == encrypt and (not encrypt or parent_m.workload_id == workload_id)
            if not same_keys:
                if changed_extents is not None:
                    raise InvalidArgument(f"parent {parent} belongs to another encryption domain")
                parent_m = None  # still a correct full backup, just without the parent's help
        extents = None if changed_extents is None else [(int(o), int(n)) for o, n in changed_extents]
        codec = self._codec(workload_id, encrypt)
        lease = Lease(
            self.backend, "backup", stale_after=self.stale_after, snapshot=snapshot_id, disk=disk_id
        )
        lease.acquire()
        try:
            wait_for_no_gc(self.backend, self.stale_after)
            with open_source(source, fmt, tmpdir) as src:
                manifest, _stats = backup_disk(
                    self.backend,
                    codec,
                    src,
                    snapshot_id=snapshot_id,
                    disk_id=disk_id,
                    workload_id=workload_id,
                    chunk_size=self.chunk_size,
                    parent=parent_m,
                    changed_extents=extents,
                    progress=progress,
                    metadata=self._seal(manifest_key(snapshot_id, disk_id), dict(metadata or {})),
                    workers=self.workers,
                )
                doc_key = snapshot_doc_key(snapshot_id)
                if not self.backend.exists(doc_key):
                    doc = {
                        "snapshot_id": snapshot_id,
                        "workload_id": workload_id,
                        "created": manifest.created,
                    }
                    self._put_json(doc_key, {**doc, "metadata": {}})
                commit(self.backend, codec, src, manifest, lease, self.stale_after)
            manifest.metadata = dict(metadata or {})
        finally:
            lease.release()
        return manifest

    # -- reading -------------------------------------------------------------------------------

    def _split_ref(self, ref: str, disk_id: str | None = None) -> tuple[str, str]:
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

    def get_manifest(self, ref: str, disk_id: str | None = None) -> Manifest:
        sid, did = self._split_ref(ref, disk_id)
        key = manifest_key(sid, did)
        try:
            m = Manifest.from_bytes(self.backend.get(key), key)
        except ObjectNotFound:
            raise SnapshotNotFound(f"no disk {did} in snapshot {sid}") from None
        m.metadata = self._unseal(key, m.metadata)
        return m

    def restore_disk(
        self,
        snapshot_id: str,
        target: str | os.PathLike[str] | Any,
        fmt: str = "raw",
        progress: ProgressCallback | None = None,
        disk_id: str | None = None,
    ) -> Manifest:
        """Write the disk to ``target`` as raw or qcow2, verifying every block.

        ``target`` is a path (file or block device) or a writer object with ``size``,
        ``write(offset, data)``, ``zero(offset, length)`` and ``finish()`` (raw only).
        """
        m = self.get_manifest(snapshot_id, disk_id)
        dest = (
            target
            if isinstance(target, str)
            else os.fspath(target)
            if isinstance(target, os.PathLike)
            else target
        )
        restore_mod.restore(self.backend, self.codec_for(m), m, dest, fmt, progress, self.workers)
        LOG.info("restored %s to %s (%s, %d bytes)", m.ref, target, fmt, m.size)
        return m

    export = restore_disk

    def read_range(self, snapshot_id: str, offset: int, length: int, disk_id: str | None = None) -> bytes:
        m = self.get_manifest(snapshot_id, disk_id)
        return restore_mod.read_range(self.backend, self.codec_for(m), m, offset, length)

    # -- metadata ------------------------------------------------------------------------------

    # In a password-protected repository every JSON document (workload and snapshot documents, and the
    # caller's metadata inside manifests) is sealed: VM definitions are as private as disk contents.

    def _seal(self, key: str, doc: Any) -> Any:
        return seal(self.keys.metadata_key(), key, doc) if self.password_protected else doc

    def _unseal(self, key: str, doc: Any) -> Any:
        return unseal(self.keys.metadata_key(), key, doc) if is_sealed(doc) else doc

    def _put_json(self, key: str, doc: dict[str, Any]) -> None:
        self.backend.put(key, json.dumps(self._seal(key, doc), indent=1, sort_keys=True).encode())

    def _get_json(self, key: str) -> dict[str, Any]:
        try:
            doc = json.loads(self.backend.get(key))
        except ValueError as exc:
            raise CorruptRepository(f"{key} is damaged ({exc})") from None
        return self._unseal(key, doc)

    def put_workload(self, workload_id: str, doc: dict[str, Any]) -> None:
        self._put_json(f"workloads/{check_id('workload id', workload_id)}.json", doc)

    def get_workload(self, workload_id: str) -> dict[str, Any]:
        try:
            return self._get_json(f"workloads/{check_id('workload id', workload_id)}.json")
        except ObjectNotFound:
            raise SnapshotNotFound(f"no workload document for {workload_id}") from None

    def put_snapshot_metadata(
        self, snapshot_id: str, doc: dict[str, Any], workload_id: str = "default"
    ) -> None:
        check_id("snapshot id", snapshot_id)
        check_id("workload id", workload_id)
        created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        body = {"snapshot_id": snapshot_id, "workload_id": workload_id, "created": created, "metadata": doc}
        self._put_json(snapshot_doc_key(snapshot_id), body)

    def get_snapshot(self, snapshot_id: str) -> dict[str, Any]:
        """The snapshot document plus ``disks``; SnapshotNotFound unless a disk manifest exists."""
        disks = self.list_disks(snapshot_id)
        if not disks:
            raise SnapshotNotFound(f"no snapshot {snapshot_id}")
        try:
            doc = self._get_json(snapshot_doc_key(snapshot_id))
        except ObjectNotFound:
            doc = {"snapshot_id": snapshot_id, "workload_id": None, "metadata": {}}
        doc["disks"] = disks
        return doc

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
            try:
                doc = self._get_json(snapshot_doc_key(sid))
            except ObjectNotFound:
                doc = {"snapshot_id": sid, "workload_id": None, "metadata": {}}
            if workload_id is not None and doc.get("workload_id") != workload_id:
                continue
            doc["disks"] = sorted(disks)
            out.append(doc)
        return sorted(out, key=lambda d: (str(d.get("created")), d["snapshot_id"]))

    def list_workloads(self) -> list[str]:
        ids = {i.key[len("workloads/") : -len(".json")] for i in self.backend.list("workloads/")}
        ids.update(str(s["workload_id"]) for s in self.list_snapshots() if s.get("workload_id"))
        return sorted(ids)

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

    def lock_snapshot(self, snapshot_id: str, until: dt.datetime) -> None:
        """Make the snapshot immutable until ``until`` (backends with object lock only)."""
        for did in self.list_disks(snapshot_id):
            m = self.get_manifest(snapshot_id, did)
            for cid in {c for c in m.chunks if c}:
                self.backend.lock_until(chunk_key(cid), until)
            self.backend.lock_until(manifest_key(snapshot_id, did), until)
        if self.backend.exists(snapshot_doc_key(snapshot_id)):
            self.backend.lock_until(snapshot_doc_key(snapshot_id), until)

    def gc(self, grace: float = 3600.0, dry_run: bool = False) -> gc_mod.GcReport:
        """Remove chunks no manifest references (see gc.py for how it avoids running backups)."""
        return gc_mod.collect(self.backend, grace=grace, stale_after=self.stale_after, dry_run=dry_run)

    def verify(
        self,
        snapshot_id: str | None = None,
        read_data: bool = False,
        progress: ProgressCallback | None = None,
    ) -> verify_mod.VerifyReport:
        """Check the disks of one snapshot (or of all) for missing or damaged chunks."""
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
        return verify_mod.verify(self.backend, loaded, self.codec_for, read_data, progress, self.workers)
