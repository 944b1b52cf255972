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
_TAG = 16
# Level 3's double-fast matcher with smaller tables (level 3: hash log 17, chain log 16): they stay in
# the CPU caches, which cuts the compression time per GiB by 10-12% for 0.7% more bytes on disk
# images (docs/benchmarks.md). Any zstd decoder reads the frames as before.
_TUNED: dict[int, dict[str, int]] = {
    3: {
        "window_log": 21,
        "chain_log": 15,
        "hash_log": 16,
        "search_log": 1,
        "min_match": 5,
        "strategy": zstandard.STRATEGY_DFAST,
    }
}
_SAMPLES, _SAMPLE = 4, 4096  # the incompressibility test: 4 samples of 4 KiB
_MIN_PROBED = 256 * 1024  # blobs tested for it: 6% of a 256 KiB one is sampled


def chunk_key(chunk_id: str) -> str:
    """The object key of a chunk: fanned out by the first two hex digits."""
    return f"chunks/{chunk_id[:2]}/{chunk_id}"


def chunk_id(id_key: bytes, data: bytes | bytearray | memoryview) -> str:
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
        params = _TUNED.get(level)
        if params is None:
            cctx = zstandard.ZstdCompressor(level=level)
        else:
            cctx = zstandard.ZstdCompressor(compression_params=zstandard.ZstdCompressionParameters(**params))
        by_level[level] = cctx
    return cctx


def decompressor() -> zstandard.ZstdDecompressor:
    dctx: zstandard.ZstdDecompressor | None = getattr(_contexts, "decompressor", None)
    if dctx is None:
        dctx = _contexts.decompressor = zstandard.ZstdDecompressor()
    return dctx


def is_zero(data: bytes | bytearray | memoryview) -> bool:
    size = len(data)
    zero = _zero_cache.get(size)
    if zero is None:
        zero = _zero_cache[size] = bytes(size)
    # startswith is a memcmp for any buffer; ``memoryview == bytes`` compares item by item (about
    # 100 times slower), and equal lengths make the prefix test an equality test.
    return zero.startswith(data)


def incompressible(data: bytes | bytearray | memoryview) -> bool:
    """True when samples spread over ``data`` all look incompressible (random or already compressed).

    zstd spends about a second per GiB of random bytes finding nothing (docs/benchmarks.md); four 4 KiB
    samples at level 1 cost a few percent of that. Any sample that compresses sends the whole block to
    zstd, so a block with some compressible part is still compressed. Smaller blobs (64 KiB pieces) go
    straight to zstd: there the samples would cost more than they save."""
    size = len(data)
    if size < _MIN_PROBED:
        return False
    view = memoryview(data)
    probe = compressor(1)
    step = size // _SAMPLES
    for k in range(_SAMPLES):
        start = k * step + (step - _SAMPLE) // 2
        if len(probe.compress(view[start : start + _SAMPLE])) < _SAMPLE * 31 // 32:
            return False
    return True


@dataclass
class ChunkCodec:
    """Encodes and decodes chunk objects with one workload's keys."""

    id_key: bytes
    enc_key: bytes | None = None
    level: int = ZSTD_LEVEL
    keys: str = "repository"  # where the keys come from: the repository's, or the workload's own key

    def __post_init__(self) -> None:
        self._aead = AESGCM(self.enc_key) if self.enc_key else None

    def chunk_id(self, data: bytes | bytearray | memoryview) -> str:
        return chunk_id(self.id_key, data)

    def encode(self, cid: str, data: bytes | bytearray | memoryview) -> bytes | bytearray:
        payload: bytes | bytearray | memoryview
        if incompressible(data):
            comp, payload = COMP_NONE, data
        else:
            packed = compressor(self.level).compress(data)
            comp, payload = (COMP_ZSTD, packed) if len(packed) < len(data) else (COMP_NONE, data)
        if self._aead is None:
            return bytes((MAGIC, comp, ENC_NONE, 0)) + payload
        # Sealed straight behind the header: no copy of the payload or of the ciphertext.
        blob = bytearray(_HEADER + _NONCE + len(payload) + _TAG)
        blob[:_HEADER] = bytes((MAGIC, comp, ENC_AESGCM, 0))
        nonce = os.urandom(_NONCE)
        blob[_HEADER : _HEADER + _NONCE] = nonce
        self._aead.encrypt_into(nonce, payload, bytes.fromhex(cid), memoryview(blob)[_HEADER + _NONCE :])
        return blob

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
