"""Pack files: many blobs in one object, so a backup's object count follows its size in packs, not in
blocks (restic's packs; an object store sees one PUT per pack instead of one per 1 MiB block, and a
posix target one fsync).

Layout of ``data/<first 2 hex digits of the pack id>/<pack id>``::

    blob 0 | blob 1 | ... | header | header length (4 bytes, little endian) | magic "T4OPACK2"

Each blob is a chunk object exactly as chunks.py encodes it (magic 0xC4, compression, encryption,
payload). The header is a run of 44-byte records, one per blob in pack order: blob id (32 raw bytes),
offset (u32), stored length (u32), plain length (u32), all little endian. The pack id is 32 random
bytes in hex: every blob is checked against its own id when read, so hashing whole packs as well
would only cost CPU under the writer's lock. The header makes a pack self-describing, so the index
(index.py) can be rebuilt from the packs alone.
"""

from __future__ import annotations

import logging
import secrets
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from t4o.vault.backend import ObjectWriter
from t4o.vault.errors import CorruptRepository

LOG = logging.getLogger(__name__)
PACKS_PREFIX = "data/"
MAGIC = b"T4OPACK2"
RECORD = struct.Struct("<32sIII")
TRAILER = struct.Struct("<I8s")
DEFAULT_PACK_SIZE = 16 * 1024 * 1024
MIN_PACK, MAX_PACK = 1024 * 1024, 256 * 1024 * 1024


def pack_key(pack_id: str) -> str:
    return f"{PACKS_PREFIX}{pack_id[:2]}/{pack_id}"


def pack_id_of(key: str) -> str:
    return key.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class PackedBlob:
    """Where one blob lies: in ``pack`` at ``offset``, ``length`` bytes stored, ``raw`` bytes plain."""

    blob_id: str
    pack: str
    offset: int
    length: int
    raw: int


def encode_header(entries: list[tuple[str, int, int, int]]) -> bytes:
    """The header and trailer of a pack of ``(blob id, offset, stored length, plain length)``."""
    header = b"".join(RECORD.pack(bytes.fromhex(i), o, n, r) for i, o, n, r in entries)
    return header + TRAILER.pack(len(header), MAGIC)


def read_header(data: bytes, pack: str) -> list[PackedBlob]:
    """The blobs of a whole pack object ``data`` (from its header)."""
    if len(data) < TRAILER.size:
        raise CorruptRepository(f"pack {pack}: too short to be a pack")
    header_len, magic = TRAILER.unpack_from(data, len(data) - TRAILER.size)
    start = len(data) - TRAILER.size - header_len
    if magic != MAGIC or start < 0 or header_len % RECORD.size:
        raise CorruptRepository(f"pack {pack}: bad header")
    blobs = []
    for pos in range(start, start + header_len, RECORD.size):
        raw_id, offset, length, raw = RECORD.unpack_from(data, pos)
        if offset + length > start:
            raise CorruptRepository(f"pack {pack}: a blob lies outside the pack's data")
        blobs.append(PackedBlob(raw_id.hex(), pack, offset, length, raw))
    return blobs


class PackWriter:
    """Collects encoded blobs into packs of about ``pack_size`` bytes, each written when full.

    Thread-safe: the backup's worker threads add blobs; each is written into the open pack right away
    (a posix target streams it into a temporary file, an S3 target into a multipart upload, part by
    part: no pack is held whole in memory). The thread whose blob fills a pack finishes it (header,
    fsync or last part, rename or completion) outside the lock while the others go on with the next.
    At most one pack is finished at a time. ``flush`` finishes the last one. Every pack written is
    handed to ``on_pack`` with its blobs (the index records them)."""

    def __init__(
        self,
        new_object: Callable[[], ObjectWriter],
        on_pack: Callable[[str, list[PackedBlob]], None],
        pack_size: int = DEFAULT_PACK_SIZE,
    ) -> None:
        self._new_object, self._on_pack = new_object, on_pack
        self.pack_size = pack_size
        self._lock = threading.Lock()
        self._finishing = threading.Lock()
        self._open: _OpenPack | None = None
        self.packs_written = 0
        self.bytes_written = 0

    def add(self, blob_id: str, blob: bytes | bytearray, raw: int) -> None:
        with self._lock:
            pack = self._open
            if pack is None:
                pack = self._open = _OpenPack(self._new_object(), self.pack_size)
            pack.add(blob_id, blob, raw)
            full = pack.size >= self.pack_size
            if full:
                self._open = None
        if not full:
            pack.writer.drain()  # outside the lock: an S3 part goes up while the others go on
            return
        self._finish(pack)

    def flush(self) -> None:
        with self._lock:
            pack, self._open = self._open, None
        if pack is not None:
            self._finish(pack)

    def abort(self) -> None:
        """Drop the open pack (a backup that failed): its temporary object goes."""
        with self._lock:
            pack, self._open = self._open, None
        if pack is not None:
            pack.writer.abort()

    def _finish(self, pack: _OpenPack) -> None:
        pack.add_raw(encode_header(pack.entries))
        pack_id = pack.id
        with self._finishing:
            pack.writer.commit(pack_key(pack_id))
        with self._lock:
            self.packs_written += 1
            self.bytes_written += pack.size
        LOG.debug("wrote pack %s: %d blobs, %d bytes", pack_id, len(pack.entries), pack.size)
        self._on_pack(pack_id, [PackedBlob(i, pack_id, o, n, r) for i, o, n, r in pack.entries])


class _OpenPack:
    def __init__(self, writer: ObjectWriter, size: int) -> None:
        # Named before its first byte: an S3 multipart upload needs its key from the start.
        self.id = secrets.token_hex(32)
        self.writer = writer
        writer.expect(pack_key(self.id), size)
        self.size = 0
        self.entries: list[tuple[str, int, int, int]] = []  # id, offset, length, raw

    def add(self, blob_id: str, blob: bytes | bytearray, raw: int) -> None:
        self.entries.append((blob_id, self.size, len(blob), raw))
        self.add_raw(blob)

    def add_raw(self, data: bytes | bytearray) -> None:
        # Every writer takes any buffer (os.write, b"".join); an encrypted blob is a bytearray sealed in
        # place (chunks.py). It is never changed once added.
        self.writer.write(cast(bytes, data))
        self.size += len(data)
