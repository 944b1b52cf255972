"""The repository's store side: where objects live, the ``config`` object, the keys, and chunks.

This is what borg calls the repository and the key: it knows how to create and open a repository,
which codec (chunk-id key, encryption key, zstd level) a workload's chunks use, how to get, put, list
and delete chunk objects, and how to seal JSON documents in a password-protected repository. It knows
nothing of snapshots, disks or workloads: that is the archive side (archive.py).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import threading
from collections.abc import Callable, Iterator
from typing import Any, Self

from t4o.vault.backend import Backend, ObjectInfo, ObjectNotFound
from t4o.vault.chunks import ZSTD_LEVEL, ChunkCodec, chunk_key
from t4o.vault.errors import (
    CorruptRepository,
    InvalidArgument,
    PasswordRequired,
    RepositoryExists,
    RepositoryNotFound,
    WorkloadKeyLocked,
    WorkloadKeyMissing,
)
from t4o.vault.index import BlobIndex, cache_of, write_index
from t4o.vault.keys import (
    SEALED,
    RepoKeys,
    WorkloadKey,
    check_workload_key_doc,
    is_sealed,
    seal,
    unseal,
    unwrap_keys,
    unwrap_workload_key,
    workload_key_key,
    wrap_keys,
    wrap_workload_key,
)
from t4o.vault.leases import STALE_AFTER
from t4o.vault.manifest import Manifest, check_id
from t4o.vault.packs import (
    DEFAULT_PACK_SIZE,
    MAX_PACK,
    MIN_PACK,
    PACKS_PREFIX,
    PackedBlob,
    PackWriter,
    pack_key,
)

LOG = logging.getLogger(__name__)
CONFIG_KEY = "config"
FORMAT = "t4o-vault"
VERSION = 2
READABLE = (1, 2)
DEFAULT_CHUNK_SIZE = 1024 * 1024
MIN_CHUNK, MAX_CHUNK = 64 * 1024, 16 * 1024 * 1024
# Pieces of a block an incremental may store on their own: QEMU's dirty bitmaps track 64 KiB.
DEFAULT_PIECE_SIZE = 64 * 1024
CHUNKS_PREFIX = "chunks/"  # version 1: one object per blob (still read, and swept by gc)


class Store:
    """An open repository's objects, settings and keys. Create one with ``init`` or ``open``."""

    def __init__(self, backend: Backend, config: dict[str, Any], keys: RepoKeys):
        self.backend = backend
        self.config = config
        self.keys = keys
        self.chunk_size: int = int(config["chunk_size"])
        self.compression_level: int = int(config.get("compression_level", ZSTD_LEVEL))
        self.password_protected = config.get("encryption") == "password"
        self.version = int(config.get("version", 1))
        self.pack_size = int(config.get("pack_size", DEFAULT_PACK_SIZE))
        self.piece_size = int(config.get("piece_size", DEFAULT_PIECE_SIZE))
        # Blobs of version 1 live as objects of their own under chunks/; a repository upgraded from it
        # keeps reading (and gc sweeping) them.
        self.legacy_chunks = self.version == 1 or bool(config.get("legacy_chunks"))
        self._index: BlobIndex | None = None
        self._index_lock = threading.Lock()
        self.index_cache = cache_of(backend)
        # Workload keys unlocked in this process with their secret (never stored in clear).
        self._workload_keys: dict[str, WorkloadKey] = {}
        self.stale_after = STALE_AFTER
        # Threads per backup/restore. Twice the two cores: while some wait on fsync or the network,
        # the others hash and compress (both release the GIL). Measured: about 25% faster than 2.
        # An object store's requests wait on the network far longer than a file's: twice as many.
        self.workers = 8 if backend.url.startswith("s3://") else 4

    # -- creation and opening ------------------------------------------------------------------

    @classmethod
    def init(
        cls,
        backend: Backend,
        password: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        compression_level: int = ZSTD_LEVEL,
        pack_size: int = DEFAULT_PACK_SIZE,
    ) -> Self:
        if not MIN_PACK <= pack_size <= MAX_PACK:
            raise InvalidArgument(f"pack size {pack_size} must be from 1 MiB to 256 MiB")
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
            "pack_size": pack_size,
            "piece_size": min(DEFAULT_PIECE_SIZE, chunk_size),
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
    def open(cls, backend: Backend, password: str | None = None) -> Self:
        try:
            raw = backend.get(CONFIG_KEY)
        except ObjectNotFound:
            raise RepositoryNotFound(f"no repository at {backend.url} (run init first)") from None
        try:
            config = json.loads(raw)
            if config.get("format") != FORMAT:
                raise ValueError("not a t4o vault config")
            if config.get("version") not in READABLE:
                raise ValueError(f"unsupported version {config.get('version')} (this T4O reads {READABLE})")
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

    def settings(self) -> dict[str, Any]:
        return {
            "url": self.backend.url,
            "id": self.config["id"],
            "format": f"{FORMAT} v{self.version}",
            "created": self.config["created"],
            "chunk_size": self.chunk_size,
            "compression_level": self.compression_level,
            "encryption": self.config["encryption"],
            "pack_size": self.pack_size,
            "piece_size": self.piece_size,
        }

    def upgrade(self) -> None:
        """Make a version 1 repository version 2 before writing into it: new blobs go into packs, the
        old chunk objects stay where they are and are still read. Readers older than version 2 refuse
        the repository from then on (they would not find the new blobs)."""
        if self.version >= VERSION:
            return
        config = dict(self.config)
        config.update(
            version=VERSION,
            legacy_chunks=True,
            pack_size=DEFAULT_PACK_SIZE,
            piece_size=min(DEFAULT_PIECE_SIZE, self.chunk_size),
        )
        self.backend.put(CONFIG_KEY, json.dumps(config, indent=1).encode())
        self.config, self.version = config, VERSION
        self.pack_size, self.piece_size = config["pack_size"], config["piece_size"]
        LOG.info("upgraded repository %s to format version %d", self.backend.url, VERSION)

    # -- keys ----------------------------------------------------------------------------------

    def codec(self, workload_id: str, encrypted: bool) -> ChunkCodec:
        """How the chunks of a workload are named and stored: one id key for every unencrypted
        workload (they deduplicate with each other); an encrypted workload uses its own key when it was
        unlocked, else keys derived from the repository's (password-protected repositories)."""
        if not encrypted:
            return ChunkCodec(self.keys.id_key, level=self.compression_level)
        own = self._workload_keys.get(workload_id)
        if own is not None:
            return ChunkCodec(own.id_key, own.enc_key, level=self.compression_level, keys="workload")
        id_key, enc_key = self.keys.workload_keys(workload_id)
        return ChunkCodec(id_key, enc_key, level=self.compression_level)

    def codec_for(self, m: Manifest) -> ChunkCodec:
        if m.keys == "workload":
            self.require_workload_key(m.workload_id)
        return self.codec(m.workload_id, m.encrypted)

    # A workload key lives in keys/<workload_id>, wrapped by a secret kept outside the target (keys.py).

    def workload_key_info(self, workload_id: str) -> dict[str, Any] | None:
        """The workload's key object without its key (``secret_ref``, ``created``, ``rewrapped``), or
        None when the workload has no key of its own."""
        try:
            doc = self._workload_key_doc(workload_id)
        except WorkloadKeyMissing:
            return None
        return {k: doc.get(k) for k in ("workload_id", "secret_ref", "created", "rewrapped")}

    def has_workload_key(self, workload_id: str) -> bool:
        return workload_id in self._workload_keys or self.backend.exists(workload_key_key(workload_id))

    def workload_unlocked(self, workload_id: str) -> bool:
        return workload_id in self._workload_keys

    def unlock_workload(self, workload_id: str, secret: bytes) -> str:
        """Unwrap the workload's key with its secret's payload and keep it for this repository object;
        returns the reference of the secret that wraps it. WorkloadKeyMissing, WrongWorkloadSecret."""
        doc = self._workload_key_doc(workload_id)
        self._workload_keys[workload_id] = unwrap_workload_key(workload_id, doc, secret)
        return str(doc.get("secret_ref"))

    def create_workload_key(self, workload_id: str, secret_ref: str, secret: bytes) -> bool:
        """Give the workload a random key of its own, wrapped by the secret, and unlock it; a workload
        that has one already is unlocked with ``secret`` instead. True when a key was created.

        Call it before the workload's first encrypted backup, from one process at a time (T4O's
        workflow, which runs one job of a workload at a time): two creators would write two keys."""
        check_id("workload id", workload_id)
        if self.backend.exists(workload_key_key(workload_id)):
            self.unlock_workload(workload_id, secret)
            return False
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        doc = wrap_workload_key(workload_id, WorkloadKey.generate(), secret_ref, secret, now, None)
        self.backend.put(workload_key_key(workload_id), json.dumps(doc, indent=1).encode())
        # What is stored now is the key (if another creator won a race, its key and its secret's).
        self.unlock_workload(workload_id, secret)
        LOG.info("created the key of workload %s, wrapped by secret %s", workload_id, secret_ref)
        return True

    def rewrap_workload_key(
        self, workload_id: str, old_secret: bytes, new_ref: str, new_secret: bytes
    ) -> None:
        """Rotation: wrap the workload's key with another secret. The data is not rewritten; from then on
        the old secret no longer opens the workload (an old copy of the key object still would)."""
        doc = self._workload_key_doc(workload_id)
        key = unwrap_workload_key(workload_id, doc, old_secret)
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        new = wrap_workload_key(workload_id, key, new_ref, new_secret, str(doc.get("created") or now), now)
        self.backend.put(workload_key_key(workload_id), json.dumps(new, indent=1).encode())
        self._workload_keys[workload_id] = key
        LOG.info("re-wrapped the key of workload %s with secret %s", workload_id, new_ref)

    def delete_workload_key(self, workload_id: str) -> bool:
        """Forget the workload's key: whatever it encrypted can never be read again. False if absent."""
        self._workload_keys.pop(workload_id, None)
        if not self.backend.exists(workload_key_key(workload_id)):
            return False
        self.backend.delete(workload_key_key(workload_id))
        LOG.info("deleted the key of workload %s", workload_id)
        return True

    def require_workload_key(self, workload_id: str) -> WorkloadKey:
        """The unlocked key, or WorkloadKeyLocked saying which secret unlocks it."""
        own = self._workload_keys.get(workload_id)
        if own is not None:
            return own
        info = self.workload_key_info(workload_id)
        if info is None:
            raise WorkloadKeyMissing(
                f"workload {workload_id} is encrypted with its own key, but the backup target holds no key "
                f"for it ({workload_key_key(workload_id)} is missing): its data cannot be read",
                workload_id,
            )
        raise WorkloadKeyLocked(
            f"workload {workload_id} is encrypted with its own key: unlock it with its secret "
            f"{info['secret_ref']} first",
            workload_id,
        )

    def guard_workload(self, workload_id: str) -> None:
        """Refuse to write a workload with a key of its own in clear: it must be unlocked first."""
        if workload_id not in self._workload_keys and self.backend.exists(workload_key_key(workload_id)):
            self.require_workload_key(workload_id)

    def _workload_key_doc(self, workload_id: str) -> dict[str, Any]:
        check_id("workload id", workload_id)
        try:
            raw = self.backend.get(workload_key_key(workload_id))
        except ObjectNotFound:
            raise WorkloadKeyMissing(
                f"workload {workload_id} has no key of its own on {self.backend.url}", workload_id
            ) from None
        try:
            doc = json.loads(raw)
        except ValueError as exc:
            raise CorruptRepository(f"{workload_key_key(workload_id)} is damaged ({exc})") from None
        return check_workload_key_doc(workload_id, doc)

    # -- blobs ---------------------------------------------------------------------------------

    # A blob is one stored block or piece (a chunk object, chunks.py), found through the index
    # (index.py) in a pack (packs.py), or, in a repository upgraded from version 1, as an object of
    # its own under chunks/.

    @property
    def index(self) -> BlobIndex:
        with self._index_lock:
            if self._index is None:
                self._index = BlobIndex.load(self.backend, self.index_cache)
            return self._index

    def reload_index(self) -> BlobIndex:
        """Read the index again: a gc may have repacked blobs since it was loaded."""
        with self._index_lock:
            self._index = BlobIndex.load(self.backend, self.index_cache)
            return self._index

    def has_blob(self, cid: str) -> bool:
        if cid in self.index:
            return True
        return self.legacy_chunks and self.backend.exists(chunk_key(cid))

    def blob_present(self, cid: str, pack_exists: Callable[[str], bool]) -> bool:
        """Whether a blob is really stored: named by the index in a pack that exists (``pack_exists``
        answers for a pack id), or, in a repository upgraded from version 1, an old chunk object."""
        found = self.index.find(cid)
        if found is not None:
            return pack_exists(found.pack)
        return self.legacy_chunks and self.backend.exists(chunk_key(cid))

    def stored_size(self, cid: str) -> int | None:
        """The stored (compressed, encrypted) bytes of a blob, or None if there is no such blob."""
        found = self.index.find(cid)
        if found is not None:
            return found.length
        if self.legacy_chunks:
            try:
                return self.backend.stat(chunk_key(cid)).size
            except ObjectNotFound:
                return None
        return None

    def fetch_blob(self, cid: str) -> bytes:
        """The stored bytes of a blob; ObjectNotFound when no pack (or old chunk object) holds it."""
        index = self.index
        for fresh in (False, True):
            if fresh:  # a gc may have repacked it since the index was loaded
                index = self.reload_index()
            found = index.find(cid)
            if found is not None:
                try:
                    return self.backend.get_range(pack_key(found.pack), found.offset, found.length)
                except ObjectNotFound:
                    continue
            if self.legacy_chunks:
                try:
                    return self.backend.get(chunk_key(cid))
                except ObjectNotFound:
                    pass
        raise ObjectNotFound(f"{self.backend.url}: no blob {cid}")

    def get_blob(self, codec: ChunkCodec, cid: str, size: int | None = None) -> bytes:
        """The plain block or piece, re-hashed against its id (CorruptRepository when it does not match)."""
        return codec.decode(cid, self.fetch_blob(cid), size)

    def legacy_chunk_ids(self) -> set[str]:
        """Every version 1 chunk object's id, from one listing (empty in a repository born version 2)."""
        if not self.legacy_chunks:
            return set()
        return {key.rsplit("/", 1)[-1] for key in self.backend.list_keys(CHUNKS_PREFIX)}

    def list_legacy_chunks(self) -> Iterator[ObjectInfo]:
        return self.backend.list(CHUNKS_PREFIX) if self.legacy_chunks else iter(())

    def list_packs(self) -> Iterator[ObjectInfo]:
        return self.backend.list(PACKS_PREFIX)

    def blob_session(self) -> BlobSession:
        return BlobSession(self)

    # -- sealed documents ----------------------------------------------------------------------

    # In a password-protected repository every JSON document (workload and snapshot documents, and the
    # caller's metadata inside manifests) is sealed: VM definitions are as private as disk contents. A
    # workload with a key of its own seals its documents with that key, whatever the repository.

    def seal(self, key: str, doc: Any, workload_id: str | None = None) -> Any:
        if workload_id is not None:
            self.guard_workload(workload_id)
            own = self._workload_keys.get(workload_id)
            if own is not None:
                return {**seal(own.doc_key, key, doc), "workload": workload_id}
        return seal(self.keys.metadata_key(), key, doc) if self.password_protected else doc

    def unseal(self, key: str, doc: Any) -> Any:
        if is_sealed_by_workload(doc):
            own = self.require_workload_key(str(doc["workload"]))
            return unseal(own.doc_key, key, {"sealed": doc["sealed"], "data": doc["data"]})
        return unseal(self.keys.metadata_key(), key, doc) if is_sealed(doc) else doc

    def put_doc(self, key: str, doc: dict[str, Any], workload_id: str | None = None) -> None:
        sealed = self.seal(key, doc, workload_id)
        self.backend.put(key, json.dumps(sealed, indent=1, sort_keys=True).encode())

    def get_doc(self, key: str) -> dict[str, Any]:
        """The document at ``key``; ObjectNotFound when there is none, WorkloadKeyLocked when it is sealed
        with a workload's key that is not unlocked."""
        try:
            doc = json.loads(self.backend.get(key))
        except ValueError as exc:
            raise CorruptRepository(f"{key} is damaged ({exc})") from None
        return self.unseal(key, doc)


def is_sealed_by_workload(doc: object) -> bool:
    """A document sealed with a workload's own key: ``{"sealed", "data", "workload": <workload id>}``."""
    return (
        isinstance(doc, dict)
        and doc.get("sealed") == SEALED
        and set(doc) == {"sealed", "data", "workload"}
        and isinstance(doc["workload"], str)
    )


class BlobSession:
    """The blobs one backup (or one gc repack) writes: packed as they come, indexed at ``finish``.

    Until ``finish`` writes the session's index file, its packs are not part of the repository; a
    process that dies before leaves packs that gc removes once they are older than its grace period.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.blobs: list[PackedBlob] = []
        self._writer = PackWriter(
            lambda: store.backend.new_object(PACKS_PREFIX), self._packed, store.pack_size
        )

    def _packed(self, pack: str, blobs: list[PackedBlob]) -> None:
        self.blobs.extend(blobs)

    def put(self, codec: ChunkCodec, cid: str, data: bytes | bytearray | memoryview) -> int:
        """Encode and pack the blob ``data`` whose id is ``cid``; returns its stored size."""
        blob = codec.encode(cid, data)
        self._writer.add(cid, blob, len(data))
        return len(blob)

    def put_encoded(self, cid: str, blob: bytes, raw: int) -> None:
        """Pack an already encoded blob as it is (gc moving a blob to a new pack)."""
        self._writer.add(cid, blob, raw)

    def abort(self) -> None:
        """Drop what is not written yet (the backup failed); written packs are left to gc."""
        self._writer.abort()

    @property
    def packs_written(self) -> int:
        return self._writer.packs_written

    def finish(self, extra: list[PackedBlob] | None = None, supersedes: tuple[str, ...] = ()) -> str | None:
        """Upload the last pack and write the index file of every pack written (with ``extra``
        entries, and naming the index files it ``supersedes``: gc's consolidation); returns its id."""
        self._writer.flush()
        if not self.blobs and not extra and not supersedes:
            return None
        index_id = write_index(self.store.backend, [*self.blobs, *(extra or [])], supersedes)
        self.store.index.add(self.blobs)
        return index_id
