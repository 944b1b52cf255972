"""Chunk objects: how one block of a disk is identified, compressed, encrypted and stored.

Chunk id: keyed BLAKE3 (32 bytes, shown as 64 hex digits) of the block's plain bytes. Object layout::

    byte 0      magic 0xC4
    byte 1      compression: 0 = none, 1 = zstd (a zstd frame)
    byte 2      encryption: 0 = none, 1 = AES-256-GCM
    byte 3      reserved, 0
    [12 bytes   GCM nonce, only when encrypted]
    payload     the (compressed) block; when encrypted, GCM ciphertext + 16-byte tag, AAD = raw chunk id

The block is stored uncompressed when zstd does not make it smaller.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import blake3
import zstandard
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from t4o.vault.errors import CorruptRepository

MAGIC = 0xC4
COMP_NONE = 0
COMP_ZSTD = 1
ENC_NONE = 0
ENC_AESGCM = 1
ZSTD_LEVEL = 3
_HEADER = 4
_NONCE = 12


def chunk_key(chunk_id: str) -> str:
    """The object key of a chunk: fanned out by the first two hex digits."""
    return f"chunks/{chunk_id[:2]}/{chunk_id}"


def chunk_id(id_key: bytes, data: bytes | memoryview) -> str:
    # blake3 releases the GIL while hashing, so worker threads hash in parallel.
    return blake3.blake3(data, key=id_key).hexdigest()


_zero_cache: dict[int, bytes] = {}
# zstd contexts are not thread-safe but are worth reusing (creating one per 1 MiB chunk is measurable):
# one compressor per level and one decompressor per thread.
_contexts = threading.local()


def compressor(level: int) -> zstandard.ZstdCompressor:
    by_level: dict[int, zstandard.ZstdCompressor] | None = getattr(_contexts, "compressors", None)
    if by_level is None:
        by_level = _contexts.compressors = {}
    cctx = by_level.get(level)
    if cctx is None:
        cctx = by_level[level] = zstandard.ZstdCompressor(level=level)
    return cctx


def decompressor() -> zstandard.ZstdDecompressor:
    dctx: zstandard.ZstdDecompressor | None = getattr(_contexts, "decompressor", None)
    if dctx is None:
        dctx = _contexts.decompressor = zstandard.ZstdDecompressor()
    return dctx


def is_zero(data: bytes | memoryview) -> bool:
    size = len(data)
    zero = _zero_cache.get(size)
    if zero is None:
        zero = _zero_cache[size] = bytes(size)
    return data == zero


@dataclass
class ChunkCodec:
    """Encodes and decodes chunk objects with one workload's keys."""

    id_key: bytes
    enc_key: bytes | None = None
    level: int = ZSTD_LEVEL
    keys: str = "repository"  # where the keys come from: the repository's, or the workload's own key

    def __post_init__(self) -> None:
        self._aead = AESGCM(self.enc_key) if self.enc_key else None

    def chunk_id(self, data: bytes | memoryview) -> str:
        return chunk_id(self.id_key, data)

    def encode(self, cid: str, data: bytes | memoryview) -> bytes:
        packed = compressor(self.level).compress(data)
        if len(packed) < len(data):
            comp, payload = COMP_ZSTD, packed
        else:
            comp, payload = COMP_NONE, bytes(data)
        if self._aead is None:
            return bytes((MAGIC, comp, ENC_NONE, 0)) + payload
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, payload, bytes.fromhex(cid))
        return bytes((MAGIC, comp, ENC_AESGCM, 0)) + nonce + sealed

    def decode(self, cid: str, blob: bytes | memoryview, size: int | None = None) -> bytes:
        """The plain block of a chunk object; raises CorruptRepository when it does not check out."""
        if len(blob) < _HEADER or blob[0] != MAGIC:
            raise CorruptRepository(f"chunk {cid}: not a chunk object (bad header)")
        comp, enc = blob[1], blob[2]
        # Views, not slices: slicing a 1 MiB object copies it, and restore decodes every chunk.
        payload: bytes | memoryview = memoryview(blob)[_HEADER:]
        if enc == ENC_AESGCM:
            if self._aead is None:
                raise CorruptRepository(f"chunk {cid}: encrypted, but this workload has no key")
            if len(payload) < _NONCE:
                raise CorruptRepository(f"chunk {cid}: not a chunk object (truncated)")
            try:
                payload = self._aead.decrypt(payload[:_NONCE], payload[_NONCE:], bytes.fromhex(cid))
            except InvalidTag:
                raise CorruptRepository(
                    f"chunk {cid}: authentication failed (damaged or wrong key)"
                ) from None
        elif enc != ENC_NONE:
            raise CorruptRepository(f"chunk {cid}: unknown encryption {enc}")
        if comp == COMP_ZSTD:
            try:
                data = decompressor().decompress(payload, max_output_size=size or 0)
            except zstandard.ZstdError as exc:
                raise CorruptRepository(f"chunk {cid}: zstd data is damaged ({exc})") from None
        elif comp == COMP_NONE:
            data = bytes(payload)
        else:
            raise CorruptRepository(f"chunk {cid}: unknown compression {comp}")
        if size is not None and len(data) != size:
            raise CorruptRepository(f"chunk {cid}: holds {len(data)} bytes, the manifest says {size}")
        if self.chunk_id(data) != cid:
            raise CorruptRepository(f"chunk {cid}: content does not match its id (damaged)")
        return data
