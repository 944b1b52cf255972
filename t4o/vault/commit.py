"""The commit phase of a backup: make sure every chunk the manifest names exists, then write it.

gc may sweep while a backup runs (gc.py). It never deletes chunks stored after the oldest running
backup began, but a backup also references older chunks: those it found already stored (dedup) and
those it took from its parent's manifest. A sweep that overlapped the backup may have deleted some of
them, if no manifest referenced them at the time. So, before writing the manifest, the backup:

1. takes a ``commit`` lease and waits until no gc lease is live (a sweep that starts from now on sees
   the commit lease and does not sweep);
2. if the gc epoch object (``locks/epoch-gc``, rewritten at the start of every sweep) is newer than the
   backup's own start, checks that every chunk it references exists, re-reading the missing blocks
   from the source and storing them again;
3. writes the manifest and drops the commit lease.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from t4o.vault.backend import ObjectNotFound
from t4o.vault.chunks import ChunkCodec, is_zero
from t4o.vault.leases import Lease, wait_for_no_gc
from t4o.vault.manifest import Manifest, block_len, digest_of, entry_blobs, tree_checksum
from t4o.vault.packs import pack_key
from t4o.vault.source import DiskSource, ObjectSource

if TYPE_CHECKING:
    from t4o.vault.archive import Archive
    from t4o.vault.backend import Backend
    from t4o.vault.store import Store

LOG = logging.getLogger(__name__)
GC_EPOCH_KEY = "locks/epoch-gc"  # not "gc-...": that prefix is for leases
# Object stores may keep mtimes to the second: treat a sweep that began this close as overlapping.
CLOCK_MARGIN = dt.timedelta(seconds=2)


def last_sweep_start(backend: Backend) -> dt.datetime | None:
    try:
        return backend.stat(GC_EPOCH_KEY).mtime
    except ObjectNotFound:
        return None


def repair_missing(store: Store, codec: ChunkCodec, source: DiskSource | ObjectSource, m: Manifest) -> int:
    """Re-store blocks a sweep removed a blob of; returns how many. Updates ``m`` in place.

    The index is read again (the sweep rewrote it) and every pack it names for a blob is checked, so a
    blob is taken as present only where it really is. A repaired block is stored whole."""
    store.reload_index()
    packs: dict[str, bool] = {}

    def pack_exists(pack: str) -> bool:
        if pack not in packs:
            packs[pack] = store.backend.exists(pack_key(pack))
        return packs[pack]

    def present(cid: str) -> bool:
        return store.blob_present(cid, pack_exists)

    checked: dict[str, bool] = {}
    session = store.blob_session()
    repaired = 0
    for i, entry in enumerate(m.chunks):
        blobs = list(entry_blobs(entry))
        if all(checked.setdefault(cid, present(cid)) for cid in blobs):
            continue
        data = source.read(i * m.chunk_size, block_len(i, m.size, m.chunk_size))
        new = None if is_zero(data) else codec.chunk_id(data)
        if new is not None and not checked.get(new):
            session.put(codec, new, data)
            checked[new] = True
        if new != digest_of(entry):
            LOG.warning("block %d of %s changed on the source during the backup", i, source.path)
        m.chunks[i] = new
        repaired += 1
    session.finish()
    if repaired:
        m.checksum = tree_checksum(m.chunks, m.size, m.chunk_size, codec.id_key)
    return repaired


def commit(
    store: Store,
    archive: Archive,
    codec: ChunkCodec,
    source: DiskSource | ObjectSource,
    m: Manifest,
    backup_lease: Lease,
) -> None:
    backend, stale_after = store.backend, store.stale_after
    with Lease(backend, "commit", stale_after=stale_after, snapshot=m.snapshot_id, disk=m.disk_id):
        wait_for_no_gc(backend, stale_after)
        sweep = last_sweep_start(backend)
        assert backup_lease.started is not None
        if sweep is not None and sweep >= backup_lease.started - CLOCK_MARGIN:
            repaired = repair_missing(store, codec, source, m)
            m.stats["repaired_after_gc"] = repaired
            if repaired:
                LOG.warning("%s: stored %d block(s) again that a concurrent gc had removed", m.ref, repaired)
        backup_lease.check()
        # The commit point: until this object exists the snapshot does not.
        archive.put_manifest(m)
