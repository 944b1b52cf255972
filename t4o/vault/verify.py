"""Verification: are all chunks of the snapshots present, and (with read_data) do they hash right?"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from t4o.vault.backend import BackendError
from t4o.vault.chunks import ChunkCodec
from t4o.vault.errors import CorruptRepository, WorkloadKeyError
from t4o.vault.manifest import Manifest, Patched, block_len, tree_checksum
from t4o.vault.packs import pack_id_of
from t4o.vault.parallel import for_each
from t4o.vault.progress import ProgressCallback, ProgressMeter
from t4o.vault.restore import fetch_block
from t4o.vault.store import Store


@dataclass
class VerifyReport:
    disks: int = 0
    chunks_checked: int = 0
    bytes_read: int = 0
    missing: dict[str, list[str]] = field(default_factory=dict)  # chunk id -> disk refs needing it
    damaged: dict[str, str] = field(default_factory=dict)  # chunk id -> why
    damaged_manifests: dict[str, str] = field(default_factory=dict)  # key -> why
    affected: set[str] = field(default_factory=set)  # disk refs that would not restore
    # disks of workloads with a key of their own that was not unlocked: their blobs were only found
    locked: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.damaged or self.damaged_manifests)

    def lines(self) -> list[str]:
        out = [
            f"checked {self.disks} disk(s), {self.chunks_checked} chunk(s)"
            + (f", re-read {self.bytes_read} bytes" if self.bytes_read else "")
        ]
        for key, why in sorted(self.damaged_manifests.items()):
            out.append(f"DAMAGED manifest {key}: {why}")
        for cid, refs in sorted(self.missing.items()):
            out.append(f"MISSING chunk {cid}, needed by {', '.join(sorted(refs))}")
        for cid, why in sorted(self.damaged.items()):
            out.append(f"DAMAGED chunk {cid}: {why}")
        if self.affected:
            out.append(f"disks that would not restore: {', '.join(sorted(self.affected))}")
        if self.locked:
            out.append(f"present but not read (workload key locked): {', '.join(sorted(self.locked))}")
        out.append("OK" if self.ok else "DAMAGE FOUND")
        return out


def verify(
    store: Store,
    manifests: list[tuple[str, Manifest | Exception]],
    read_data: bool = False,
    progress: ProgressCallback | None = None,
) -> VerifyReport:
    report = VerifyReport()
    # Each distinct chunk is checked once; checks run on a thread pool so the store's latency and the
    # decoding overlap, with at most 2 * workers checks queued.
    todo: dict[str, tuple[ChunkCodec | None, int]] = {}
    users: dict[str, list[str]] = {}
    for key, m in manifests:
        if not isinstance(m, Manifest):
            report.damaged_manifests[key] = str(m)
            continue
        report.disks += 1
        codec: ChunkCodec | None
        try:
            codec = store.codec_for(m)
        except WorkloadKeyError:
            # Without the workload's key neither its ids nor its data can be checked: presence only.
            codec = None
            report.locked.add(m.ref)
        # The block list must still add up to the whole-disk checksum taken at backup.
        if codec is not None and tree_checksum(m.chunks, m.size, m.chunk_size, codec.id_key) != m.checksum:
            report.damaged_manifests[key] = "its block list does not match the disk checksum taken at backup"
            report.affected.add(m.ref)
            continue
        for i, entry in enumerate(m.chunks):
            if entry is None:
                continue
            n = block_len(i, m.size, m.chunk_size)
            if isinstance(entry, Patched):
                sized = [(p, m.piece_size) for _, p in entry.pieces if p]
                if entry.base:
                    sized.append((entry.base, n))
            else:
                sized = [(entry, n)]
            for cid, size in sized:
                users.setdefault(cid, []).append(m.ref)
                if cid not in todo or todo[cid][0] is None:
                    todo[cid] = (codec, size)
    meter = ProgressMeter("verify", sum(n for _, n in todo.values()) if read_data else 0, progress)
    # Without reading data, a blob is present when the index names it in a pack that exists.
    packs = {pack_id_of(i.key) for i in store.list_packs()}

    def present(cid: str) -> bool:
        return store.blob_present(cid, packs.__contains__)

    lock = threading.Lock()

    def check(cid: str) -> None:
        codec, size = todo[cid]
        one = VerifyReport()
        ok = _check(store, codec, cid, size, read_data and codec is not None, one, present)
        with lock:
            report.chunks_checked += 1
            report.bytes_read += one.bytes_read
            report.damaged.update(one.damaged)
            if cid in one.missing:
                report.missing[cid] = sorted(set(users[cid]))
            if not ok:
                report.affected.update(users[cid])
        if read_data:
            meter.add(size)

    # A backend outage stops the run and is raised: it is not a damaged chunk.
    for_each(todo, check, workers=store.workers, name="vault-verify")
    if read_data:
        _check_patches(store, manifests, report)
    meter.finish()
    return report


def _check_patches(
    store: Store, manifests: list[tuple[str, Manifest | Exception]], report: VerifyReport
) -> None:
    """A patched block's pieces over its base must give the whole block backed up (its digest)."""
    for _key, m in manifests:
        if not isinstance(m, Manifest) or m.ref in report.affected or m.ref in report.locked:
            continue
        codec = store.codec_for(m)
        for i, entry in enumerate(m.chunks):
            if not isinstance(entry, Patched):
                continue
            try:
                fetch_block(store, codec, m, i)
            except CorruptRepository as exc:
                report.damaged[entry.digest] = str(exc)
                report.affected.add(m.ref)


def _check(
    store: Store,
    codec: ChunkCodec | None,
    cid: str,
    size: int,
    read_data: bool,
    r: VerifyReport,
    present: Callable[[str], bool],
) -> bool:
    try:
        if not read_data:
            if present(cid):
                return True
            r.missing[cid] = []
            return False
        assert codec is not None  # read_data only with the codec
        data = store.get_blob(codec, cid, size)
        r.bytes_read += len(data)
        return True
    except CorruptRepository as exc:
        r.damaged[cid] = str(exc)
    except BackendError as exc:
        if not present(cid):
            r.missing[cid] = []
        else:
            r.damaged[cid] = str(exc)
    return False
