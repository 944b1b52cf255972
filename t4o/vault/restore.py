"""Restoring a disk snapshot: fetch and check chunks on a thread pool, write them in place.

Every chunk is re-hashed after decryption and decompression (ChunkCodec.decode), so the whole-disk
checksum recorded at backup is recomputed from data actually produced; a mismatch is an error and the
target is not reported as restored.
"""

from __future__ import annotations

import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from t4o.vault.chunks import ChunkCodec, chunk_key
from t4o.vault.errors import CorruptRepository, InvalidArgument, TargetError
from t4o.vault.manifest import Manifest, block_len, tree_checksum
from t4o.vault.progress import ProgressCallback, ProgressMeter
from t4o.vault.source import RestoreTarget, convert_raw_to_qcow2

if TYPE_CHECKING:
    from t4o.vault.backend import Backend


def fetch_block(backend: Backend, codec: ChunkCodec, m: Manifest, index: int) -> bytes:
    cid = m.chunks[index]
    n = block_len(index, m.size, m.chunk_size)
    if cid is None:
        return bytes(n)
    try:
        blob = backend.get(chunk_key(cid))
    except Exception as exc:  # ObjectNotFound or a backend failure: name the snapshot that needs it
        raise CorruptRepository(
            f"snapshot {m.ref}: chunk {cid} (block {index}) is unreadable: {exc}"
        ) from None
    return codec.decode(cid, blob, n)


def restore_raw(
    backend: Backend,
    codec: ChunkCodec,
    m: Manifest,
    target: str | Any,
    progress: ProgressCallback | None,
    workers: int = 4,
) -> None:
    out = RestoreTarget(target, m.size) if isinstance(target, str) else target
    if not isinstance(target, str) and int(target.size) < m.size:
        raise TargetError(f"restore target {target!r} is smaller than the disk ({m.size} bytes)")
    meter = ProgressMeter("restore", m.size, progress)
    slots = threading.BoundedSemaphore(workers * 2)
    failure: list[BaseException] = []

    def work(i: int) -> None:
        try:
            if failure:
                return
            off = i * m.chunk_size
            if m.chunks[i] is None:
                out.zero(off, block_len(i, m.size, m.chunk_size))
            else:
                out.write(off, fetch_block(backend, codec, m, i))
            meter.add(block_len(i, m.size, m.chunk_size))
        except BaseException as exc:
            failure.append(exc)
        finally:
            slots.release()

    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vault-restore") as pool:
            for i in range(len(m.chunks)):
                slots.acquire()
                if failure:
                    slots.release()
                    break
                pool.submit(work, i)
        if failure:
            raise failure[0]
        # Each block was re-hashed against its id, so the tree over the ids is the tree of the data.
        if tree_checksum(m.chunks, m.size, m.chunk_size, codec.id_key) != m.checksum:
            raise CorruptRepository(
                f"snapshot {m.ref}: restored disk does not match the checksum taken at backup"
            )
    except BaseException:
        # A file target is dropped (the previous file, if any, stays); a writer is closed all the same.
        getattr(out, "abort", out.finish)()
        raise
    out.finish()
    meter.finish()


def restore(
    backend: Backend,
    codec: ChunkCodec,
    m: Manifest,
    target: str | Any,
    fmt: str,
    progress: ProgressCallback | None,
    workers: int = 4,
) -> None:
    if fmt == "raw":
        restore_raw(backend, codec, m, target, progress, workers)
        return
    if fmt != "qcow2":
        raise InvalidArgument(f"unknown restore format {fmt!r} (use raw or qcow2)")
    if not isinstance(target, str):
        raise InvalidArgument("a writer object receives raw data: restore to it with fmt='raw'")
    # The raw image is staged beside the target (same filesystem, same free space) and converted.
    target_dir = os.path.dirname(os.path.abspath(target))
    try:
        staging = tempfile.TemporaryDirectory(prefix=".t4o-restore-", dir=target_dir)
    except OSError as exc:
        raise TargetError(f"cannot write in {target_dir}: {exc.strerror}") from None
    with staging as tmp:
        raw = os.path.join(tmp, "disk.raw")
        restore_raw(backend, codec, m, raw, progress, workers)
        convert_raw_to_qcow2(raw, target)


def read_range(backend: Backend, codec: ChunkCodec, m: Manifest, offset: int, length: int) -> bytes:
    if offset < 0 or length < 0 or offset + length > m.size:
        raise InvalidArgument(f"range {offset}+{length} is outside the disk (size {m.size})")
    if length == 0:
        return b""
    first, last = offset // m.chunk_size, (offset + length - 1) // m.chunk_size
    parts = [fetch_block(backend, codec, m, i) for i in range(first, last + 1)]
    data = b"".join(parts)
    start = offset - first * m.chunk_size
    return data[start : start + length]
