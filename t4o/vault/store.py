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
from collections.abc import Iterator
from typing import Any, Self

from t4o.vault.backend import Backend, ObjectInfo, ObjectNotFound
from t4o.vault.chunks import ZSTD_LEVEL, ChunkCodec, chunk_key
from t4o.vault.errors import (
    CorruptRepository,
    InvalidArgument,
    PasswordRequired,
    RepositoryExists,
    RepositoryNotFound,
)
from t4o.vault.keys import RepoKeys, is_sealed, seal, unseal, unwrap_keys, wrap_keys
from t4o.vault.leases import STALE_AFTER
from t4o.vault.manifest import Manifest

LOG = logging.getLogger(__name__)
CONFIG_KEY = "config"
FORMAT = "t4o-vault"
VERSION = 1
DEFAULT_CHUNK_SIZE = 1024 * 1024
MIN_CHUNK, MAX_CHUNK = 64 * 1024, 16 * 1024 * 1024
CHUNKS_PREFIX = "chunks/"


class Store:
    """An open repository's objects, settings and keys. Create one with ``init`` or ``open``."""

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
    ) -> Self:
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
    def open(cls, backend: Backend, password: str | None = None) -> Self:
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

    def settings(self) -> dict[str, Any]:
        return {
            "url": self.backend.url,
            "id": self.config["id"],
            "format": f"{FORMAT} v{VERSION}",
            "created": self.config["created"],
            "chunk_size": self.chunk_size,
            "compression_level": self.compression_level,
            "encryption": self.config["encryption"],
        }

    # -- keys ----------------------------------------------------------------------------------

    def codec(self, workload_id: str, encrypted: bool) -> ChunkCodec:
        """How the chunks of a workload are named and stored: one id key for every unencrypted
        workload (they deduplicate with each other), per-workload keys for encrypted ones."""
        if not encrypted:
            return ChunkCodec(self.keys.id_key, level=self.compression_level)
        id_key, enc_key = self.keys.workload_keys(workload_id)
        return ChunkCodec(id_key, enc_key, level=self.compression_level)

    def codec_for(self, m: Manifest) -> ChunkCodec:
        return self.codec(m.workload_id, m.encrypted)

    # -- chunks --------------------------------------------------------------------------------

    def has_chunk(self, cid: str) -> bool:
        return self.backend.exists(chunk_key(cid))

    def put_chunk(self, codec: ChunkCodec, cid: str, data: bytes | memoryview) -> int:
        """Store the block ``data`` whose id is ``cid``; returns the bytes written to the store."""
        blob = codec.encode(cid, data)
        self.backend.put(chunk_key(cid), blob)
        return len(blob)

    def get_chunk(self, codec: ChunkCodec, cid: str, size: int | None = None) -> bytes:
        """The plain block, re-hashed against its id (CorruptRepository when it does not match)."""
        return codec.decode(cid, self.backend.get(chunk_key(cid)), size)

    def delete_chunk(self, cid: str) -> None:
        self.backend.delete(chunk_key(cid))

    def list_chunks(self) -> Iterator[ObjectInfo]:
        return self.backend.list(CHUNKS_PREFIX)

    def chunk_ids(self) -> set[str]:
        """Every stored chunk id, from one listing (one request per 1000 chunks on S3)."""
        return {key.rsplit("/", 1)[-1] for key in self.backend.list_keys(CHUNKS_PREFIX)}

    # -- sealed documents ----------------------------------------------------------------------

    # In a password-protected repository every JSON document (workload and snapshot documents, and the
    # caller's metadata inside manifests) is sealed: VM definitions are as private as disk contents.

    def seal(self, key: str, doc: Any) -> Any:
        return seal(self.keys.metadata_key(), key, doc) if self.password_protected else doc

    def unseal(self, key: str, doc: Any) -> Any:
        return unseal(self.keys.metadata_key(), key, doc) if is_sealed(doc) else doc

    def put_doc(self, key: str, doc: dict[str, Any]) -> None:
        self.backend.put(key, json.dumps(self.seal(key, doc), indent=1, sort_keys=True).encode())

    def get_doc(self, key: str) -> dict[str, Any]:
        """The document at ``key``; ObjectNotFound when there is none."""
        try:
            doc = json.loads(self.backend.get(key))
        except ValueError as exc:
            raise CorruptRepository(f"{key} is damaged ({exc})") from None
        return self.unseal(key, doc)
