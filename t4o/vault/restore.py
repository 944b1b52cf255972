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

from t4o.vault.backend import ObjectNotFound, RangeReader
from t4o.vault.chunks import ChunkCodec, chunk_id, is_zero
from t4o.vault.errors import CorruptRepository, InvalidArgument, TargetError
from t4o.vault.manifest import Entry, Manifest, Patched, block_count, block_len, tree_checksum
from t4o.vault.packs import PackedBlob, pack_key
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
    pieces = _pieces(store, codec, m, {pid: index for _, pid in entry.pieces if pid})
    base = _blob(store, codec, m, index, entry.base, n) if entry.base else bytes(n)
    return _apply(m, index, entry, base, pieces, codec)


def _apply(
    m: Manifest, index: int, entry: Patched, base: bytes, pieces: dict[str, bytes], codec: ChunkCodec
) -> bytes:
    """A patched block: its pieces over ``base``, checked against the whole block's digest."""
    ps, n = m.piece_size, len(base)
    block = bytearray(base)
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


# Neighbouring blobs of a pack are read with one ranged read (Backend.open_range, at most the
# backend's ``range_run_bytes``; on S3 a streamed GET of up to a whole pack): blocks in pack order, a
# patched block with its base, and the pieces of a run's patched blocks, which the incremental that
# stored them put close together in its own pack, in spans of their own. A read steps over gaps of up
# to RUN_GAP bytes (blobs of blocks rewritten since, or of other disks) rather than cost another request.
RUN_GAP = 1024 * 1024
# Decoded pieces wait for their block while a run is written: a run is cut before its patched blocks'
# pieces would hold more than this.
RUN_PIECE_BYTES = 8 * 1024 * 1024


def read_runs(store: Store, m: Manifest) -> list[list[int]]:
    """The blocks of ``m`` grouped into runs read together, in pack order: a patched block by its base,
    or by its pieces when it has no base (a block that was a hole); zero blocks and blobs the index
    does not name (old chunk objects) are runs of one."""
    index, limit = store.index, store.backend.range_run_bytes
    singles: list[list[int]] = []
    placed: list[tuple[str, int, int, int, int]] = []  # pack, offset, length, block, bytes of pieces
    for i, entry in enumerate(m.chunks):
        where: tuple[str, int, int] | None = None
        pieces = 0
        if isinstance(entry, Patched):
            ids = [p for _, p in entry.pieces if p]
            pieces = len(ids) * m.piece_size
            if entry.base is None:  # the span of its pieces, all stored by one backup, in one pack
                locs = [loc for p in ids if (loc := index.find(p)) is not None]
                if locs and len(locs) == len(ids) and len({loc.pack for loc in locs}) == 1:
                    first = min(loc.offset for loc in locs)
                    end = max(loc.offset + loc.length for loc in locs)
                    where = (locs[0].pack, first, end - first)
        base = _base(entry)
        if base is not None and (found := index.find(base)) is not None:
            where = (found.pack, found.offset, found.length)
        if where is None:
            singles.append([i])
        else:
            placed.append((*where, i, pieces))
    placed.sort()
    runs: list[list[int]] = []
    pack, start, end, last, held = "", 0, 0, -1, 0
    for p, offset, length, i, pieces in placed:
        if (
            runs
            and p == pack
            and (end <= offset <= end + RUN_GAP or offset == last)  # ``last``: the same blob again
            and max(end, offset + length) - start <= limit
            and held + pieces <= RUN_PIECE_BYTES
        ):
            runs[-1].append(i)
            held += pieces
        else:
            runs.append([i])
            pack, start, end, held = p, offset, offset, pieces
        last, end = offset, max(end, offset + length)
    return runs + singles


def _spans(located: list[tuple[PackedBlob, str]], limit: int) -> list[list[tuple[PackedBlob, str]]]:
    """``located`` blobs grouped, in pack order, into spans that one ranged read of at most ``limit``
    bytes covers."""
    spans: list[list[tuple[PackedBlob, str]]] = []
    end = 0
    for loc, cid in sorted(located, key=lambda lc: (lc[0].pack, lc[0].offset)):
        if spans:
            first = spans[-1][0][0]
            if (
                loc.pack == first.pack
                and end <= loc.offset <= end + RUN_GAP
                and loc.offset + loc.length - first.offset <= limit
            ):
                spans[-1].append((loc, cid))
                end = loc.offset + loc.length
                continue
        spans.append([(loc, cid)])
        end = loc.offset + loc.length
    return spans


def _together(locations: list[PackedBlob | None], limit: int) -> list[PackedBlob] | None:
    """``locations`` if one ranged read of at most ``limit`` bytes covers them in this order (one pack,
    ascending offsets or the same blob again), else None."""
    out: list[PackedBlob] = []
    for loc in locations:
        if loc is None:
            return None
        if out:
            prev = out[-1]
            if loc.pack != prev.pack or not (
                loc.offset >= prev.offset + prev.length or loc.offset == prev.offset
            ):
                return None
            if loc.offset + loc.length - out[0].offset > limit:
                return None
        out.append(loc)
    return out


def _open_span(store: Store, span: list[PackedBlob]) -> Iterator[bytes]:
    """The stored bytes of each blob of ``span`` (as ``_together`` or ``_spans`` gave it), from one
    ranged read; ObjectNotFound is raised here, before the first blob, when the pack is gone."""
    first = span[0]
    length = max(loc.offset + loc.length for loc in span) - first.offset
    reader = store.backend.open_range(pack_key(first.pack), first.offset, length)
    return _blobs_of(reader, span)


def _blobs_of(reader: RangeReader, span: list[PackedBlob]) -> Iterator[bytes]:
    try:
        pos, data = span[0].offset, b""
        for loc in span:
            if loc.offset < pos:  # the blob just read, referenced again
                yield data
                continue
            while pos < loc.offset:  # a gap: read and dropped
                skipped = reader.read(min(loc.offset - pos, 256 * 1024))
                if not skipped:
                    break
                pos += len(skipped)
            data = reader.read(loc.length)
            if len(data) != loc.length or pos != loc.offset:
                raise CorruptRepository(f"pack {loc.pack} is shorter than the index says")
            pos += loc.length
            yield data
    finally:
        reader.close()


def _pieces(store: Store, codec: ChunkCodec, m: Manifest, wanted: dict[str, int]) -> dict[str, bytes]:
    """The plain pieces ``wanted`` (piece id -> the block naming it, for messages), read in spans;
    one by one when a pack moved (a gc repacked it since the index was read) or the index lacks one."""
    out: dict[str, bytes] = {}
    located = [(loc, cid) for cid in wanted if (loc := store.index.find(cid)) is not None]
    for span in _spans(located, store.backend.range_run_bytes):
        try:
            blobs = _open_span(store, [loc for loc, _ in span])
        except ObjectNotFound:
            continue
        for (_, cid), data in zip(span, blobs, strict=True):
            out[cid] = codec.decode(cid, data, m.piece_size)
    for cid, index in wanted.items():
        if cid not in out:
            out[cid] = _blob(store, codec, m, index, cid, m.piece_size)
    return out


def fetch_run(store: Store, codec: ChunkCodec, m: Manifest, run: list[int]) -> Iterator[bytes]:
    """The plain blocks of a run, in order: their blobs from one ranged read of their pack, the pieces
    of its patched blocks from as few more (each blob decoded and re-hashed as ``fetch_block`` does,
    one block at a time); block by block when the pack moved (a gc repacked it meanwhile)."""
    entries = [m.chunks[i] for i in run]
    limit = store.backend.range_run_bytes
    wanted = {
        pid: i
        for i, e in zip(run, entries, strict=True)
        if isinstance(e, Patched)
        for _, pid in e.pieces
        if pid
    }
    pieces = _pieces(store, codec, m, wanted) if wanted else {}
    bases = [_base(e) for e in entries]
    # The index may have been read again since the runs were planned (a gc moved blobs): read the run
    # at once only if its blobs still lie together.
    based = [b for b in bases if b is not None]
    span = _together([store.index.find(b) for b in based], limit) if based else None
    blobs: Iterator[bytes] | None = None
    if span is not None:
        try:
            blobs = _open_span(store, span)
        except ObjectNotFound:
            blobs = None
    for i, entry, base in zip(run, entries, bases, strict=True):
        n = block_len(i, m.size, m.chunk_size)
        if blobs is not None and base is not None:
            block = codec.decode(base, next(blobs), n)
        elif base is not None:
            block = _blob(store, codec, m, i, base, n)
        else:
            block = bytes(n)
        yield _apply(m, i, entry, block, pieces, codec) if isinstance(entry, Patched) else block


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
        if m.chunks[run[0]] is None:  # a zero block, a run of its own
            off, n = run[0] * m.chunk_size, block_len(run[0], m.size, m.chunk_size)
            if dirty is None or run[0] in dirty:
                writer.write_zeroes(off, n)
            meter.add(n)
            return
        for i, block in zip(run, fetch_run(store, codec, m, run), strict=True):
            writer.write(i * m.chunk_size, block)
            meter.add(len(block))

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
