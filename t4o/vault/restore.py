"""Restoring a disk: the vault's streaming restore into any block writer, and read-back checksums.

``restore_to_writer`` writes a disk into an object with ``size``, ``write(offset, data)``,
``write_zeroes(offset, length)`` and ``flush()`` (optionally ``data_extents()``: the ranges that may
hold data now, so a fresh target is not zeroed block by block); the caller opens and closes it.
``restore_to_path`` is the same into a file or block device, raw or qcow2.

Chunks are fetched and written on a bounded thread pool (parallel.py). Every chunk is re-hashed after
decryption and decompression (ChunkCodec.decode), so the whole-disk checksum recorded at backup is
recomputed from data actually produced; a mismatch is an error and the target is not reported as
restored. ``disk_checksum`` reads a disk back after the fact and computes the same checksum.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from t4o.vault.backend import ObjectNotFound
from t4o.vault.chunks import ChunkCodec, chunk_id, is_zero
from t4o.vault.errors import CorruptRepository, InvalidArgument, TargetError
from t4o.vault.manifest import Entry, Manifest, Patched, block_count, block_len, tree_checksum
from t4o.vault.packs import pack_key
from t4o.vault.parallel import for_each
from t4o.vault.progress import ProgressCallback, ProgressMeter
from t4o.vault.source import RestoreTarget, block_ranges, convert_raw_to_qcow2, open_source

if TYPE_CHECKING:
    from t4o.vault.repository import Repository
    from t4o.vault.store import Store

LOG = logging.getLogger(__name__)


def fetch_block(store: Store, codec: ChunkCodec, m: Manifest, index: int) -> bytes:
    """The plain block ``index`` of ``m``, every blob re-hashed against its id (and a patched block
    against the digest of the whole block); CorruptRepository names the snapshot when one is missing
    or damaged."""
    entry = m.chunks[index]
    n = block_len(index, m.size, m.chunk_size)
    if entry is None:
        return bytes(n)
    if isinstance(entry, Patched):
        return _patched_block(store, codec, m, index, entry, n)
    return _blob(store, codec, m, index, entry, n)


def _blob(store: Store, codec: ChunkCodec, m: Manifest, index: int, cid: str, n: int) -> bytes:
    try:
        return store.get_blob(codec, cid, n)
    except CorruptRepository:
        raise
    except Exception as exc:  # ObjectNotFound or a backend failure: name the snapshot that needs it
        raise CorruptRepository(
            f"snapshot {m.ref}: chunk {cid} (block {index}) is unreadable: {exc}"
        ) from None


def _patched_block(store: Store, codec: ChunkCodec, m: Manifest, index: int, entry: Patched, n: int) -> bytes:
    base = _blob(store, codec, m, index, entry.base, n) if entry.base else bytes(n)
    return _apply(store, codec, m, index, entry, base)


def _apply(store: Store, codec: ChunkCodec, m: Manifest, index: int, entry: Patched, base: bytes) -> bytes:
    """A patched block: its pieces over ``base``, checked against the whole block's digest."""
    ps, n = m.piece_size, len(base)
    block = bytearray(base)
    pieces = _pieces(store, codec, m, index, [p for _, p in entry.pieces if p])
    for j, pid in entry.pieces:
        if not 0 <= j < n // ps:
            raise CorruptRepository(f"snapshot {m.ref}: block {index} names piece {j} of {n // ps}")
        block[j * ps : (j + 1) * ps] = pieces[pid] if pid else bytes(ps)
    data = bytes(block)
    if codec.chunk_id(data) != entry.digest:
        raise CorruptRepository(
            f"snapshot {m.ref}: block {index} does not match its checksum once its pieces are applied"
        )
    return data


# A patched block's pieces were stored by one backup, close together in its pack: they are read with
# one ranged read when the span holding them is at most this many bytes (an S3 GET per block, not one
# per 64 KiB piece), else one by one.
PIECE_SPAN = 2 * 1024 * 1024


def _pieces(store: Store, codec: ChunkCodec, m: Manifest, index: int, ids: list[str]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    located = [(loc, cid) for cid in ids if (loc := store.index.find(cid)) is not None]
    packs = {loc.pack for loc, _ in located}
    if len(located) > 1 and len(packs) == 1:
        start = min(loc.offset for loc, _ in located)
        end = max(loc.offset + loc.length for loc, _ in located)
        if end - start <= PIECE_SPAN:
            try:
                span = memoryview(store.backend.get_range(pack_key(located[0][0].pack), start, end - start))
                for loc, cid in located:
                    at = loc.offset - start
                    out[cid] = codec.decode(cid, span[at : at + loc.length], m.piece_size)
            except ObjectNotFound:
                out.clear()  # moved by a gc since the index was read: one by one below
    for cid in ids:
        if cid not in out:
            out[cid] = _blob(store, codec, m, index, cid, m.piece_size)
    return out


# Blocks whose blobs lie one after another in a pack are read with one ranged read of at most this
# many bytes: on S3 a few GETs per pack instead of one per block. (A backup's worker threads put a
# disk's blocks into its packs in roughly, not exactly, disk order: runs are formed in pack order.)
RUN_BYTES = 4 * 1024 * 1024


def read_runs(store: Store, m: Manifest) -> list[list[int]]:
    """The blocks of ``m`` grouped into runs read together, in pack order (a patched block by its base);
    zero blocks, patched blocks on zeros and blobs the index does not name (old chunk objects) are
    runs of one."""
    index = store.index
    singles: list[list[int]] = []
    placed: list[tuple[str, int, int, int]] = []  # pack, offset, length, block
    for i, entry in enumerate(m.chunks):
        # A patched block is read with its base, in the base's place; its pieces come after.
        whole = entry.base if isinstance(entry, Patched) else entry
        found = index.find(whole) if whole else None
        if found is None:
            singles.append([i])
        else:
            placed.append((found.pack, found.offset, found.length, i))
    placed.sort()
    runs: list[list[int]] = []
    pack, end, size = "", -1, 0
    for p, offset, length, i in placed:
        if runs and p == pack and offset == end and size + length <= RUN_BYTES:
            runs[-1].append(i)
            size += length
        else:
            runs.append([i])
            pack, size = p, length
        end = offset + length
    return runs + singles


def fetch_run(store: Store, codec: ChunkCodec, m: Manifest, run: list[int]) -> Iterator[bytes]:
    """The plain blocks of a run, in order, from one ranged read of their pack (each blob decoded and
    re-hashed as ``fetch_block`` does, one at a time so only one decoded block is held); block by
    block when the pack moved (a gc repacked it meanwhile)."""
    bases = [_base(m.chunks[i]) for i in run]
    locations = [store.index.find(b) if b else None for b in bases]
    first = locations[0]
    # The index may have been read again since the runs were planned (a gc moved blobs): read the run
    # at once only if its blobs still lie one after another.
    end = first.offset if first is not None else -1
    together = True
    for loc in locations:
        if loc is None or first is None or loc.pack != first.pack or loc.offset != end:
            together = False
            break
        end += loc.length
    data = None
    if together and first is not None:
        try:
            data = store.backend.get_range(pack_key(first.pack), first.offset, end - first.offset)
        except ObjectNotFound:
            data = None
    if data is None:
        for i in run:
            yield fetch_block(store, codec, m, i)
        return
    view, pos = memoryview(data), 0
    for i, loc, base in zip(run, locations, bases, strict=True):
        assert loc is not None and base is not None
        n = block_len(i, m.size, m.chunk_size)
        block = codec.decode(base, view[pos : pos + loc.length], n)
        entry = m.chunks[i]
        yield _apply(store, codec, m, i, entry, block) if isinstance(entry, Patched) else block
        pos += loc.length


def _base(entry: Entry) -> str | None:
    """The whole-block blob a run reads for an entry."""
    return entry.base if isinstance(entry, Patched) else entry


def write_blocks(
    store: Store, m: Manifest, writer: Any, progress: ProgressCallback | None, workers: int
) -> None:
    """Every block of ``m`` into ``writer``: data written, zero blocks zeroed where the writer may
    hold data now (all of it when it cannot tell)."""
    size = int(writer.size)
    if size < m.size:
        raise TargetError(f"restore target {writer!r} is smaller than the disk ({size} < {m.size} bytes)")
    codec = store.codec_for(m)
    extents = writer.data_extents() if callable(getattr(writer, "data_extents", None)) else None
    dirty = None if extents is None else set(block_ranges(list(extents), m.size, m.chunk_size))
    meter = ProgressMeter("restore", m.size, progress)

    def work(run: list[int]) -> None:
        blocks = fetch_run(store, codec, m, run) if len(run) > 1 else None
        for i in run:
            off, n = i * m.chunk_size, block_len(i, m.size, m.chunk_size)
            if blocks is not None:
                writer.write(off, next(blocks))
            elif m.chunks[i] is not None:
                writer.write(off, fetch_block(store, codec, m, i))
            elif dirty is None or i in dirty:
                writer.write_zeroes(off, n)
            meter.add(n)

    for_each(read_runs(store, m), work, workers=workers, name="vault-restore")
    writer.flush()
    # Each block was re-hashed against its id, so the tree over the ids is the tree of the data.
    if tree_checksum(m.chunks, m.size, m.chunk_size, codec.id_key) != m.checksum:
        raise CorruptRepository(
            f"snapshot {m.ref}: restored disk does not match the checksum taken at backup"
        )
    meter.finish()


def restore_to_writer(
    repo: Repository,
    ref: str,
    writer: Any,
    progress: ProgressCallback | None = None,
    disk_id: str | None = None,
) -> Manifest:
    """Write the disk ``ref`` into ``writer``, verifying every block; returns its manifest.

    Raises TargetError when the writer is smaller than the disk and CorruptRepository when a chunk is
    missing or damaged or the blocks do not add up to the checksum taken at backup."""
    m = repo.get_manifest(ref, disk_id)
    write_blocks(repo, m, writer, progress, repo.workers)
    LOG.info("restored %s into %r (%d bytes)", m.ref, writer, m.size)
    return m


def restore_to_path(
    repo: Repository,
    ref: str,
    target: str | os.PathLike[str],
    fmt: str = "raw",
    progress: ProgressCallback | None = None,
    disk_id: str | None = None,
) -> Manifest:
    """Write the disk ``ref`` to a file or block device as raw or qcow2. A file appears only once
    complete and verified (an existing one stays as it was when the restore fails)."""
    if fmt not in ("raw", "qcow2"):
        raise InvalidArgument(f"unknown restore format {fmt!r} (use raw or qcow2)")
    m = repo.get_manifest(ref, disk_id)
    path = os.fspath(target)
    if fmt == "qcow2":
        # The raw image is staged beside the target (same filesystem, same free space) and converted.
        target_dir = os.path.dirname(os.path.abspath(path))
        try:
            staging = tempfile.TemporaryDirectory(prefix=".t4o-restore-", dir=target_dir)
        except OSError as exc:
            raise TargetError(f"cannot write in {target_dir}: {exc.strerror}") from None
        with staging as tmp:
            raw = os.path.join(tmp, "disk.raw")
            _write_file(repo, m, raw, progress)
            convert_raw_to_qcow2(raw, path)
    else:
        _write_file(repo, m, path, progress)
    LOG.info("restored %s to %s (%s, %d bytes)", m.ref, path, fmt, m.size)
    return m


def _write_file(repo: Repository, m: Manifest, path: str, progress: ProgressCallback | None) -> None:
    out = RestoreTarget(path, m.size)
    try:
        write_blocks(repo, m, out, progress, repo.workers)
    except BaseException:
        out.abort()
        raise
    out.finish()


def disk_checksum(repo: Repository, m: Manifest, source: Any) -> str:
    """The vault checksum (manifest.py) of what ``source`` (a path or a block source object) holds now,
    read block by block: equal to ``m.checksum`` exactly when the disk equals the one backed up. Only
    blocks in the source's ``data_extents()`` are read when it has them, by several threads at once;
    the data is not kept."""
    codec = repo.codec_for(m)
    cs = m.chunk_size
    with open_source(source) as src:
        size = src.size
        ids: list[str | None] = [None] * block_count(size, cs)
        extents = src.data_extents()
        wanted = range(len(ids)) if extents is None else sorted(block_ranges(extents, size, cs))

        def one(i: int) -> None:  # several threads read at once: pread, or an NBD client with a lock
            data = src.read(i * cs, block_len(i, size, cs))
            ids[i] = None if is_zero(data) else chunk_id(codec.id_key, data)

        for_each(wanted, one, workers=repo.workers, name="vault-checksum")
    return tree_checksum(ids, size, cs, codec.id_key)


def read_range(store: Store, m: Manifest, offset: int, length: int) -> bytes:
    if offset < 0 or offset + length > m.size or length < 0:
        raise InvalidArgument(f"range {offset}+{length} is outside the disk (size {m.size})")
    if length == 0:
        return b""
    codec = store.codec_for(m)
    first, last = offset // m.chunk_size, (offset + length - 1) // m.chunk_size
    data = b"".join(fetch_block(store, codec, m, i) for i in range(first, last + 1))
    start = offset - first * m.chunk_size
    return data[start : start + length]
