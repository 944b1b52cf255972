"""Verification: are all chunks of the snapshots present, and (with read_data) do they hash right?"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from t4o.vault.backend import Backend, BackendError
from t4o.vault.chunks import ChunkCodec, chunk_key
from t4o.vault.errors import CorruptRepository
from t4o.vault.manifest import Manifest, block_len
from t4o.vault.progress import ProgressCallback, ProgressMeter


@dataclass
class VerifyReport:
    disks: int = 0
    chunks_checked: int = 0
    bytes_read: int = 0
    missing: dict[str, list[str]] = field(default_factory=dict)  # chunk id -> disk refs needing it
    damaged: dict[str, str] = field(default_factory=dict)  # chunk id -> why
    damaged_manifests: dict[str, str] = field(default_factory=dict)  # key -> why
    affected: set[str] = field(default_factory=set)  # disk refs that would not restore

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
        out.append("OK" if self.ok else "DAMAGE FOUND")
        return out


def verify(
    backend: Backend,
    manifests: list[tuple[str, Manifest | Exception]],
    codec_for: Callable[[Manifest], ChunkCodec],
    read_data: bool = False,
    progress: ProgressCallback | None = None,
) -> VerifyReport:
    report = VerifyReport()
    good: dict[str, bool] = {}  # chunk id -> passed
    total = sum(m.size for _, m in manifests if isinstance(m, Manifest)) if read_data else 0
    meter = ProgressMeter("verify", total, progress)
    for key, m in manifests:
        if not isinstance(m, Manifest):
            report.damaged_manifests[key] = str(m)
            continue
        report.disks += 1
        codec = codec_for(m)
        for i, cid in enumerate(m.chunks):
            if cid is None:
                continue
            if cid not in good:
                report.chunks_checked += 1
                good[cid] = _check(backend, codec, cid, block_len(i, m.size, m.chunk_size), read_data, report)
                if read_data:
                    meter.add(block_len(i, m.size, m.chunk_size))
            if not good[cid]:
                report.affected.add(m.ref)
                if cid in report.missing:
                    report.missing[cid].append(m.ref)
    meter.finish()
    for refs in report.missing.values():
        refs[:] = sorted(set(refs))
    return report


def _check(
    backend: Backend, codec: ChunkCodec, cid: str, size: int, read_data: bool, r: VerifyReport
) -> bool:
    key = chunk_key(cid)
    try:
        if not read_data:
            if backend.exists(key):
                return True
            r.missing[cid] = []
            return False
        blob = backend.get(key)
        r.bytes_read += len(blob)
        codec.decode(cid, blob, size)
        return True
    except CorruptRepository as exc:
        r.damaged[cid] = str(exc)
    except BackendError as exc:
        if not backend.exists(key):
            r.missing[cid] = []
        else:
            r.damaged[cid] = str(exc)
    return False
