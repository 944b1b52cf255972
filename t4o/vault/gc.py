"""Garbage collection: mark every chunk a manifest names, sweep the rest, safely beside running backups.

1. Mark, with no lease held: read every manifest; remember the store time ``t0`` when it began.
2. Take the gc lease, rewrite the gc epoch object (``locks/epoch-gc``) so backups know a sweep happened,
   then look for live ``commit`` leases: a backup writing its manifest right now. If there is one the
   sweep is skipped (commit.py explains the other half of this exclusion).
3. Re-list manifests and mark those written since step 1 (backups that finished meanwhile).
4. Sweep: delete chunks that are unmarked and older than both ``t0 - grace`` and the start of the oldest
   running backup. Chunks a running backup stored itself are therefore never touched; older chunks it
   reuses (found by dedup or taken from its parent) may go, and the backup checks for that and stores
   them again before it commits (commit.py).
Stale leases of crashed processes are removed in step 2, so they never block gc for long.

A dry run writes nothing at all: it takes no lease, leaves the epoch and stale leases alone and reads
the store's time from this host's clock instead of writing an object to learn it, then reports what a
sweep would delete.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from dataclasses import dataclass, field

from t4o.vault.backend import Backend
from t4o.vault.commit import GC_EPOCH_KEY
from t4o.vault.errors import CorruptRepository
from t4o.vault.leases import STALE_AFTER, Lease, lease_starts, live_leases, store_now
from t4o.vault.manifest import Manifest

LOG = logging.getLogger(__name__)


@dataclass
class GcReport:
    manifests: int = 0
    chunks_total: int = 0
    referenced: int = 0
    deleted: int = 0  # chunks deleted; by a dry run, chunks a sweep would delete
    deleted_bytes: int = 0
    kept_recent: int = 0
    swept: bool = False
    skipped_reason: str = ""
    damaged_manifests: list[str] = field(default_factory=list)
    temp_removed: int = 0
    running_backups: int = 0


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
        refs.update(c for c in m.chunks if c)
        report.manifests += 1


def collect(
    backend: Backend,
    grace: float = 3600.0,
    stale_after: float = STALE_AFTER,
    dry_run: bool = False,
) -> GcReport:
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
        for info in backend.list("chunks/"):
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
                backend.delete(info.key)
            report.deleted += 1  # a dry run counts what it would delete
            report.deleted_bytes += info.size
        report.swept = not report.skipped_reason and not dry_run
        # Snapshot documents whose every manifest is gone (deleted, or a backup that crashed).
        if report.swept:
            _drop_orphan_docs(backend, cutoff)
            # Temporary files of writers that died (posix only; S3 has none).
            sweep_temp = getattr(backend, "sweep_temp", None)
            if sweep_temp is not None:
                report.temp_removed = sweep_temp()
    LOG.info(
        "gc: %d manifests, %d chunks, %d referenced, %d deleted (%d bytes), %d recent kept%s",
        report.manifests,
        report.chunks_total,
        report.referenced,
        report.deleted,
        report.deleted_bytes,
        report.kept_recent,
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
