"""The blob index: which pack holds each blob, kept on the target so no one lists the packs.

A backup writes one index file for the packs it wrote, after them and before its manifest; gc writes
one consolidated file that names the files it replaces (``supersedes``) and then deletes them. Readers
load every file under ``index/`` and ignore those a loaded file supersedes (a gc that died between
writing its index and deleting the old ones leaves both).

Layout of ``index/<id>`` (``id``: hex BLAKE3 of the file)::

    magic "T4OIDX02" | pack count (u32) | superseded count (u32)
    pack ids (32 raw bytes each) | superseded index ids (32 raw bytes each)
    records sorted by blob id, 48 bytes each:
        blob id (32) | pack number (u32, into the pack ids) | offset | stored length | plain length (u32)

Records are fixed-size and sorted, so a large (consolidated) file is searched in place by bisection
instead of becoming millions of Python objects: a backup's lookups cost log(n) each, and its memory
follows the index files' bytes, not a dict of every blob.

An index file never changes (its name is the hash of its bytes), so a copy of it stays valid forever:
a target whose reads are requests (S3) keeps the files it read in a local ``IndexCache``, and every
backup, restore and verify after the first reads them from there (the listing of ``index/`` still
says which files are current). A cached copy is checked against its name when read.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import os
import secrets
import stat
import struct
import threading
from collections.abc import Iterable, Iterator

import blake3

from t4o.vault.backend import Backend, ObjectNotFound
from t4o.vault.errors import CorruptRepository
from t4o.vault.packs import PackedBlob

LOG = logging.getLogger(__name__)
INDEX_PREFIX = "index/"
MAGIC = b"T4OIDX02"
HEAD = struct.Struct("<8sII")
RECORD = struct.Struct("<32sIIII")
# Files with fewer records go into one dict (fast, small); larger ones are bisected in place.
DICT_LIMIT = 50_000
DEFAULT_CACHE_BYTES = 1024 * 1024 * 1024
CACHE_TEMP = ".tmp-"


def index_key(index_id: str) -> str:
    return f"{INDEX_PREFIX}{index_id}"


def encode_index(blobs: Iterable[PackedBlob], supersedes: Iterable[str] = ()) -> bytes:
    by_id: dict[str, PackedBlob] = {}
    for b in blobs:
        by_id.setdefault(b.blob_id, b)
    packs = sorted({b.pack for b in by_id.values()})
    number = {p: n for n, p in enumerate(packs)}
    old = sorted(set(supersedes))
    out = [HEAD.pack(MAGIC, len(packs), len(old))]
    out += [bytes.fromhex(p) for p in packs]
    out += [bytes.fromhex(i) for i in old]
    for blob_id in sorted(by_id):
        b = by_id[blob_id]
        out.append(RECORD.pack(bytes.fromhex(blob_id), number[b.pack], b.offset, b.length, b.raw))
    return b"".join(out)


def write_index(backend: Backend, blobs: Iterable[PackedBlob], supersedes: Iterable[str] = ()) -> str:
    data = encode_index(blobs, supersedes)
    index_id = blake3.blake3(data).hexdigest()
    backend.put(index_key(index_id), data)
    cache = cache_of(backend)
    if cache is not None:  # the next backup of this host reads it from there
        cache.put(index_id, data)
    return index_id


class IndexCache:
    """Index files kept in a local directory, at most ``max_bytes`` of them (the least recently used
    go first). Files are written to a temporary name and renamed, so a reader never sees half of one;
    one whose bytes do not hash to its name (a damaged disk) is dropped and read from the target again.
    Every failure of the cache only costs the read it would have saved: it is logged, never raised."""

    def __init__(self, directory: str, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.hits = self.misses = 0
        self._usable: bool | None = None

    def _ready(self) -> bool:
        """The directory exists, is ours and only we can write in it (nobody else can plant or swap
        files there: a planted file would fail its hash, but could still fill the disk)."""
        if self._usable is None:
            try:
                os.makedirs(self.directory, mode=0o700, exist_ok=True)
                st = os.lstat(self.directory)
                self._usable = (
                    stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022
                )
                if not self._usable:
                    LOG.warning(
                        "index cache %s is not a directory only this user can write: unused", self.directory
                    )
            except OSError as exc:
                LOG.warning("index cache %s unusable: %s", self.directory, exc.strerror or exc)
                self._usable = False
        return self._usable

    def _path(self, index_id: str) -> str:
        return os.path.join(self.directory, index_id)

    def get(self, index_id: str) -> bytes | None:
        if not self._ready():
            return None
        path = self._path(index_id)
        try:
            with open(path, "rb") as f:
                data = f.read()
            os.utime(path)  # recently used: evicted last
        except FileNotFoundError:
            self.misses += 1
            return None
        except OSError as exc:
            LOG.warning("index cache: cannot read %s: %s", path, exc.strerror or exc)
            self.misses += 1
            return None
        if blake3.blake3(data).hexdigest() != index_id:
            LOG.warning("index cache: %s does not match its name; dropped", path)
            with contextlib.suppress(OSError):
                os.unlink(path)
            self.misses += 1
            return None
        self.hits += 1
        return data

    def put(self, index_id: str, data: bytes) -> None:
        if not self._ready() or len(data) > self.max_bytes:
            return
        tmp = self._path(f"{CACHE_TEMP}{index_id}.{secrets.token_hex(6)}")
        try:
            with open(tmp, "xb") as f:
                f.write(data)
            os.replace(tmp, self._path(index_id))
        except OSError as exc:
            LOG.warning("index cache: cannot write %s: %s", index_id, exc.strerror or exc)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            return
        self._evict()

    def _evict(self) -> None:
        """Remove the least recently used files until the cache fits in ``max_bytes``."""
        files = []
        try:
            with os.scandir(self.directory) as entries:
                for entry in entries:
                    with contextlib.suppress(OSError):
                        st = entry.stat(follow_symlinks=False)
                        files.append((st.st_mtime, st.st_size, entry.path))
        except OSError:
            return
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files):
            if total <= self.max_bytes:
                break
            with contextlib.suppress(OSError):
                os.unlink(path)
            total -= size


def read_index_file(backend: Backend, index_id: str, cache: IndexCache | None = None) -> bytes:
    """The bytes of ``index/<index_id>``, from ``cache`` when it holds them (and into it when not)."""
    if cache is not None and not _is_id(index_id):
        cache = None  # not a name this module writes: never a path under the cache
    if cache is not None:
        data = cache.get(index_id)
        if data is not None:
            return data
    data = backend.get(index_key(index_id))
    if cache is not None and blake3.blake3(data).hexdigest() == index_id:
        cache.put(index_id, data)
    return data


def _is_id(index_id: str) -> bool:
    return len(index_id) == 64 and all(c in "0123456789abcdef" for c in index_id)


def cache_of(backend: Backend) -> IndexCache | None:
    return IndexCache(backend.index_cache_dir) if backend.index_cache_dir else None


class IndexFile:
    """One parsed index file; its records stay in one bytes object."""

    def __init__(self, index_id: str, data: bytes) -> None:
        self.id = index_id
        try:
            magic, npacks, nold = HEAD.unpack_from(data, 0)
        except struct.error:
            raise CorruptRepository(f"index {index_id}: too short") from None
        start = HEAD.size + 32 * (npacks + nold)
        if magic != MAGIC or len(data) < start or (len(data) - start) % RECORD.size:
            raise CorruptRepository(f"index {index_id}: not an index file (damaged)")
        view = memoryview(data)
        self.packs = [bytes(view[HEAD.size + 32 * n : HEAD.size + 32 * (n + 1)]).hex() for n in range(npacks)]
        base = HEAD.size + 32 * npacks
        self.supersedes = {bytes(view[base + 32 * n : base + 32 * (n + 1)]).hex() for n in range(nold)}
        self._records = view[start:]
        self.count = len(self._records) // RECORD.size

    def _at(self, n: int) -> PackedBlob:
        raw_id, pack_no, offset, length, raw = RECORD.unpack_from(self._records, n * RECORD.size)
        if pack_no >= len(self.packs):
            raise CorruptRepository(f"index {self.id}: a record names pack {pack_no} of {len(self.packs)}")
        return PackedBlob(raw_id.hex(), self.packs[pack_no], offset, length, raw)

    def _id_at(self, n: int) -> bytes:
        return bytes(self._records[n * RECORD.size : n * RECORD.size + 32])

    def find(self, raw_id: bytes) -> PackedBlob | None:
        n = bisect.bisect_left(range(self.count), raw_id, key=self._id_at)
        if n < self.count and self._id_at(n) == raw_id:
            return self._at(n)
        return None

    def __iter__(self) -> Iterator[PackedBlob]:
        return (self._at(n) for n in range(self.count))


class BlobIndex:
    """Every blob's location, loaded from ``index/`` (``load``) plus what this process wrote since
    (``add``). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._small: dict[bytes, PackedBlob] = {}
        self._large: list[IndexFile] = []
        self._parsed: list[IndexFile] = []  # every file loaded, for gc's view of each pack
        self._added: list[PackedBlob] = []
        self.files: set[str] = set()  # the index ids loaded (not superseded)
        self.packs: set[str] = set()

    @classmethod
    def load(cls, backend: Backend, cache: IndexCache | None = None) -> BlobIndex:
        """Every current index file of ``backend``; through ``cache`` when given."""
        index = cls()
        parsed: list[IndexFile] = []
        for key in backend.list_keys(INDEX_PREFIX):
            index_id = key[len(INDEX_PREFIX) :]
            try:
                parsed.append(IndexFile(index_id, read_index_file(backend, index_id, cache)))
            except ObjectNotFound:
                continue  # superseded and removed by a gc since the listing
        replaced = set().union(*(f.supersedes for f in parsed)) if parsed else set()
        for f in parsed:
            if f.id in replaced:
                continue
            index.files.add(f.id)
            index._parsed.append(f)
            index.packs.update(f.packs)
            if f.count < DICT_LIMIT:
                for b in f:
                    index._small.setdefault(bytes.fromhex(b.blob_id), b)
            else:
                index._large.append(f)
        LOG.debug("loaded %d index file(s), %d pack(s)", len(index.files), len(index.packs))
        return index

    def add(self, blobs: Iterable[PackedBlob]) -> None:
        with self._lock:
            for b in blobs:
                self._small.setdefault(bytes.fromhex(b.blob_id), b)
                self._added.append(b)
                self.packs.add(b.pack)

    def find(self, blob_id: str) -> PackedBlob | None:
        raw = bytes.fromhex(blob_id)
        found = self._small.get(raw)
        if found is not None:
            return found
        for f in self._large:
            found = f.find(raw)
            if found is not None:
                return found
        return None

    def __contains__(self, blob_id: str) -> bool:
        return self.find(blob_id) is not None

    def __iter__(self) -> Iterator[PackedBlob]:
        """Every blob once (the first location found when a blob was stored twice)."""
        seen: set[bytes] = set()
        for raw, b in list(self._small.items()):
            seen.add(raw)
            yield b
        for f in self._large:
            for b in f:
                raw = bytes.fromhex(b.blob_id)
                if raw not in seen:
                    seen.add(raw)
                    yield b

    def locations(self) -> Iterator[PackedBlob]:
        """Every record, duplicates included (a blob stored twice has two): what each pack holds."""
        for f in self._parsed:
            yield from f
        yield from list(self._added)

    def __len__(self) -> int:
        return len(self._small) + sum(f.count for f in self._large)
