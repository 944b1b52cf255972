"""Garbage collection: mark every blob a manifest names, sweep the rest, safely beside running backups.

1. Mark, with no lease held: read every manifest; remember the store time ``t0`` when it began.
2. Take the gc lease, rewrite the gc epoch object (``locks/epoch-gc``) so backups know a sweep happened,
   then look for live ``commit`` leases: a backup writing its manifest right now. If there is one the
   sweep is skipped (commit.py explains the other half of this exclusion).
3. Re-list manifests and mark those written since step 1 (backups that finished meanwhile), then read
   the index (after the mark: every pack a marked manifest needs is indexed by then).
4. Sweep packs older than ``cutoff`` (both ``t0 - grace`` and the start of the oldest running backup):
   a pack with no live blob is deleted; one whose dead bytes reach ``REPACK_RATIO`` of it has its live
   blobs copied into new packs and is deleted; packs no index names (a backup that died before its
   index) are deleted. Newer packs are never touched, so blobs a running backup stored are safe; older
   blobs it reuses may go, and the backup checks for that and stores them again before it commits.
5. Write one index for everything kept, superseding the files read in step 3, then delete those files,
   then the packs. A crash between leaves extra files that readers ignore or the next gc removes.
Chunk objects of format version 1 (``chunks/``) are swept as before: unreferenced and older than the
cutoff. Stale leases of crashed processes are removed in step 2, so they never block gc for long.

A dry run writes nothing at all: it takes no lease, leaves the epoch and stale leases alone and reads
the store's time from this host's clock instead of writing an object to learn it, then reports what a
sweep would delete.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from t4o.vault.backend import Backend, ObjectInfo
from t4o.vault.commit import GC_EPOCH_KEY
from t4o.vault.errors import CorruptRepository
from t4o.vault.index import BlobIndex, index_key
from t4o.vault.leases import STALE_AFTER, Lease, lease_starts, live_leases, store_now
from t4o.vault.manifest import Manifest
from t4o.vault.packs import PackedBlob, pack_id_of, pack_key
from t4o.vault.store import Store

LOG = logging.getLogger(__name__)
# A pack is rewritten once this share of its bytes is dead: less churn than repacking on every byte,
# and deleting a snapshot still frees most of what it alone held.
REPACK_RATIO = 0.25
# Consolidate the index once this many files accumulated (each backup writes one).
MAX_INDEX_FILES = 16


@dataclass
class GcReport:
    manifests: int = 0
    chunks_total: int = 0  # blobs stored (blocks and pieces, in packs and old chunk objects)
    referenced: int = 0
    deleted: int = 0  # blobs deleted; by a dry run, blobs a sweep would delete
    deleted_bytes: int = 0  # bytes freed on the target
    kept_recent: int = 0
    swept: bool = False
    skipped_reason: str = ""
    damaged_manifests: list[str] = field(default_factory=list)
    temp_removed: int = 0
    running_backups: int = 0
    packs_total: int = 0
    packs_deleted: int = 0
    packs_repacked: int = 0
    repacked_bytes: int = 0  # live bytes copied into new packs
    index_files: int = 0  # index files read (one after a gc that rewrote it)


def _mark(backend: Backend, seen: set[str], refs: set[str], report: GcReport) -> None:
    for info in backend.list("snapshots/"):
        if not (info.key.endswith(".json") and "/disks/" in info.key) or info.key in seen:
            continue
        seen.add(info.key)
        try:
            m = Manifest.from_bytes(backend.get(info.key), info.key)
        except CorruptRepository:
            # A manifest we cannot read still protects nothing we can name: refuse to sweep at all.
            report.damaged_manifests.append(info.key)
            continue
        refs.update(m.blob_ids())
        report.manifests += 1


@dataclass
class _PackPlan:
    delete: list[str] = field(default_factory=list)  # packs to delete
    repack: dict[str, list[PackedBlob]] = field(default_factory=dict)  # pack -> live blobs to copy
    keep: list[PackedBlob] = field(default_factory=list)  # index entries that stay as they are
    changed: bool = False


def _plan_packs(
    index: BlobIndex, packs: dict[str, ObjectInfo], refs: set[str], cutoff: dt.datetime, report: GcReport
) -> _PackPlan:
    plan = _PackPlan()
    by_pack: dict[str, list[PackedBlob]] = defaultdict(list)
    seen: set[str] = set()
    twice: set[str] = set()  # blobs stored in two places (two backups at once): rare
    for loc in index.locations():
        by_pack[loc.pack].append(loc)
        (twice if loc.blob_id in seen else seen).add(loc.blob_id)
    report.chunks_total += len(seen)
    for pack, locs in by_pack.items():
        info = packs.get(pack)
        # The copy readers use is the one the index finds; other copies of a blob are dead.
        live: list[PackedBlob] = []
        dead: list[PackedBlob] = []
        for b in locs:
            used = b.blob_id in refs and (b.blob_id not in twice or index.find(b.blob_id) == b)
            (live if used else dead).append(b)
        if info is None or info.mtime >= cutoff or not dead:
            # Recent packs stay whole: a running backup may have found its blobs by dedup. A pack the
            # index names but the target lacks stays indexed, so verify reports what it held.
            if info is not None and info.mtime >= cutoff:
                report.kept_recent += sum(1 for b in dead if b.blob_id not in refs)
            plan.keep += locs
            continue
        dead_bytes = info.size - sum(b.length for b in live)
        if live and dead_bytes < REPACK_RATIO * info.size:
            plan.keep += live  # not worth rewriting yet: its dead blobs only leave the index
            plan.changed = True
            continue
        if live:
            plan.repack[pack] = live
        else:
            plan.delete.append(pack)
        plan.changed = True
        report.deleted += sum(1 for b in dead if b.blob_id not in refs)
        report.deleted_bytes += dead_bytes
    # Packs no index names: a backup died after writing them and before its index.
    for pack, info in packs.items():
        if pack not in by_pack and info.mtime < cutoff:
            plan.delete.append(pack)
            report.deleted_bytes += info.size
            plan.changed = True
    report.packs_deleted = len(plan.delete) + len(plan.repack)
    report.packs_repacked = len(plan.repack)
    report.repacked_bytes = sum(b.length for live in plan.repack.values() for b in live)
    return plan


def _locked(backend: Backend, key: str) -> bool:
    until = backend.locked_until(key)
    return until is not None and until > dt.datetime.now(dt.UTC)


def _sweep_packs(store: Store, index: BlobIndex, plan: _PackPlan) -> None:
    backend = store.backend
    # Packs under retention (immutable snapshots) stay as they are, whatever they hold.
    for pack in [p for p in [*plan.delete, *plan.repack] if _locked(backend, pack_key(p))]:
        LOG.info("gc: pack %s is locked; kept", pack)
        kept = plan.repack.pop(pack, None)
        if kept is None:
            plan.delete.remove(pack)
        plan.keep += [b for b in index.locations() if b.pack == pack]
    session = store.blob_session()
    for pack, live in plan.repack.items():
        data = backend.get(pack_key(pack))
        for b in live:
            session.put_encoded(b.blob_id, data[b.offset : b.offset + b.length], b.raw)
    # Where a blob is kept twice, the copy readers use now comes first (the index keeps the first).
    keep = sorted(plan.keep, key=lambda b: index.find(b.blob_id) != b)
    session.finish(extra=keep, supersedes=tuple(sorted(index.files)))
    for index_id in index.files:
        backend.delete(index_key(index_id))
    for pack in [*plan.delete, *plan.repack]:
        backend.delete(pack_key(pack))


def _sweep_legacy(store: Store, refs: set[str], cutoff: dt.datetime, report: GcReport, dry_run: bool) -> None:
    for info in store.list_legacy_chunks():
        report.chunks_total += 1
        cid = info.key.rsplit("/", 1)[-1]
        if cid in refs:
            continue
        if info.mtime >= cutoff:
            report.kept_recent += 1
            continue
        if report.skipped_reason:
            continue
        if not dry_run:
            store.backend.delete(info.key)
        report.deleted += 1
        report.deleted_bytes += info.size


def collect(
    store: Store,
    grace: float = 3600.0,
    stale_after: float = STALE_AFTER,
    dry_run: bool = False,
) -> GcReport:
    backend = store.backend
    report = GcReport()
    t0 = _now(backend, dry_run)
    seen: set[str] = set()
    refs: set[str] = set()
    _mark(backend, seen, refs, report)
    held = contextlib.nullcontext() if dry_run else Lease(backend, "gc", stale_after=stale_after)
    with held:
        if not dry_run:
            backend.put(GC_EPOCH_KEY, b"")
        now = _now(backend, dry_run)
        committing = live_leases(backend, "commit", stale_after, remove_stale=not dry_run, now=now)
        if committing:
            report.skipped_reason = f"{len(committing)} backup(s) committing; run gc again"
        elif report.damaged_manifests:
            report.skipped_reason = f"{len(report.damaged_manifests)} manifest(s) unreadable; see verify"
        running = lease_starts(backend, "backup", stale_after, remove_stale=not dry_run, now=now)
        report.running_backups = len(running)
        _mark(backend, seen, refs, report)
        report.referenced = len(refs)
        cutoff = min([t0 - dt.timedelta(seconds=grace), *running])
        index = store.reload_index()
        packs = {pack_id_of(i.key): i for i in store.list_packs()}
        report.packs_total, report.index_files = len(packs), len(index.files)
        plan = _plan_packs(index, packs, refs, cutoff, report)
        if report.skipped_reason:  # nothing will be deleted; a dry run still says what would be
            report.deleted = report.deleted_bytes = report.packs_deleted = 0
            report.packs_repacked = report.repacked_bytes = 0
        _sweep_legacy(store, refs, cutoff, report, dry_run)
        consolidate = len(index.files) > MAX_INDEX_FILES
        if not report.skipped_reason and not dry_run and (plan.changed or consolidate):
            _sweep_packs(store, index, plan)
            store.reload_index()
        report.swept = not report.skipped_reason and not dry_run
        # Snapshot documents whose every manifest is gone (deleted, or a backup that crashed).
        if report.swept:
            _drop_orphan_docs(backend, cutoff)
            # Temporary files (posix) or open multipart uploads (S3) of writers that died.
            sweep_temp = getattr(backend, "sweep_temp", None)
            if sweep_temp is not None:
                report.temp_removed = sweep_temp()
    LOG.info(
        "gc: %d manifests, %d blobs, %d referenced, %d deleted (%d bytes freed), %d recent kept, "
        "%d of %d packs deleted (%d rewritten, %d live bytes copied)%s",
        report.manifests,
        report.chunks_total,
        report.referenced,
        report.deleted,
        report.deleted_bytes,
        report.kept_recent,
        report.packs_deleted,
        report.packs_total,
        report.packs_repacked,
        report.repacked_bytes,
        f"; sweep skipped: {report.skipped_reason}" if report.skipped_reason else "",
    )
    return report


def _now(backend: Backend, dry_run: bool) -> dt.datetime:
    """The store's time; a dry run, which must not write, takes this host's clock instead."""
    return dt.datetime.now(dt.UTC) if dry_run else store_now(backend)


def _drop_orphan_docs(backend: Backend, cutoff: dt.datetime) -> None:
    docs, with_disks = {}, set()
    for info in backend.list("snapshots/"):
        sid = info.key.split("/")[1]
        if info.key.endswith("/snapshot.json"):
            docs[sid] = info
        elif "/disks/" in info.key:
            with_disks.add(sid)
    for sid, info in docs.items():
        if sid not in with_disks and info.mtime < cutoff:
            backend.delete(info.key)
