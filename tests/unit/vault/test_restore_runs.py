"""Restore reads neighbouring blobs together: a run of blocks with one ranged read, and the pieces of its
patched blocks with as few more, with the same bytes as block by block."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from t4o.vault import PosixBackend, Repository
from t4o.vault import restore as restore_mod
from t4o.vault.backend import RangeReader
from t4o.vault.manifest import Patched
from t4o.vault.restore import fetch_block, read_runs

MiB = 1 << 20
BLOCKS = 24
HOLES = range(18, BLOCKS)  # zeros in the full: written pages there make patched blocks without a base


class CountingBackend(PosixBackend):
    """Counts the ranged reads; reads a whole pack per run, as S3 does."""

    range_run_bytes = 64 * MiB

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.opened: list[tuple[str, int]] = []
        self.ranges = 0

    def open_range(self, key: str, offset: int, length: int) -> RangeReader:
        self.opened.append((key, length))
        return super().open_range(key, offset, length)

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        self.ranges += 1
        return super().get_range(key, offset, length)


def _disk(path: Path) -> bytearray:
    rng = random.Random(7)
    data = bytearray()
    for i in range(BLOCKS):
        # Block 10 compresses to almost nothing: rewritten whole below, it leaves a small gap in the pack.
        if i in HOLES:
            data += bytes(MiB)
        else:
            data += b"text " * (MiB // 5) + b"t" if i == 10 else rng.randbytes(MiB)
    path.write_bytes(data)
    return data


def _day(path: Path, data: bytearray) -> list[tuple[int, int]]:
    """A 4 KiB page in one or two pieces of every other block (patched blocks), block 10 rewritten."""
    rng = random.Random(8)
    changed = []
    for i in range(0, BLOCKS, 2):
        for piece in {i % 16, (i * 5 + 3) % 16}:
            at = i * MiB + piece * 65536 + 8192
            data[at : at + 4096] = rng.randbytes(4096)
            changed.append((at, 4096))
    data[10 * MiB : 11 * MiB] = rng.randbytes(MiB)
    changed.append((10 * MiB, MiB))
    path.write_bytes(data)
    return changed


@pytest.fixture
def snapshot(tmp_path: Path) -> tuple[Repository, CountingBackend, str, bytes]:
    backend = CountingBackend(tmp_path / "repo")
    repo = Repository.init(backend, pack_size=64 * MiB)
    repo.workers = 1  # blobs go into the packs in disk order: the reads below are counted exactly
    disk = tmp_path / "disk.raw"
    data = _disk(disk)
    full = repo.backup_disk(disk, "vda")
    changed = _day(disk, data)
    inc = repo.backup_disk(disk, "vda", parent=full.ref, changed_extents=changed)
    assert inc.stats["patched_blocks"] == 11  # every other block but block 10, which was rewritten
    inc = repo.get_manifest(inc.ref)
    assert [i for i, e in enumerate(inc.chunks) if isinstance(e, Patched) and e.base is None] == [18, 20, 22]
    return repo, backend, inc.ref, bytes(data)


def test_a_run_and_its_pieces_are_read_with_a_few_ranged_reads(snapshot, tmp_path: Path) -> None:
    _repo, backend, ref, data = snapshot
    again = Repository.open(CountingBackend(backend.root))
    out = tmp_path / "out.raw"
    again.restore_disk(ref, out)
    assert out.read_bytes() == data
    opened = again.backend.opened  # type: ignore[attr-defined]
    # The full's blocks in one read (stepping over block 10's old blob); in the incremental's pack,
    # the pieces of the full's run on either side of block 10's new blob (a gap longer than RUN_GAP),
    # and a run of block 10 with the blocks that were holes, by their pieces: one read for the blob,
    # one for those pieces. Reading each patched block's pieces on its own took 11 reads for them.
    assert len(opened) == 5, opened
    assert again.backend.ranges == len(opened)  # type: ignore[attr-defined]  # nothing block by block


def test_runs_cover_every_block_once_in_pack_order(snapshot) -> None:
    repo, _backend, ref, _data = snapshot
    m = repo.get_manifest(ref)
    runs = read_runs(repo, m)
    assert sorted(i for run in runs for i in run) == list(range(BLOCKS))
    base_run = max(runs, key=len)
    assert len(base_run) == BLOCKS - 1 - len(HOLES)  # the full's blocks but the rewritten one
    offsets = [
        repo.index.find(e.base if isinstance(e, Patched) else e).offset
        for e in map(m.chunks.__getitem__, base_run)
    ]
    assert offsets == sorted(offsets)


def test_pieces_held_by_a_run_are_bounded(snapshot, tmp_path: Path, monkeypatch) -> None:
    repo, _backend, ref, data = snapshot
    m = repo.get_manifest(ref)
    # At most two pieces' worth per run: the patched blocks split the run, the bytes stay the same.
    monkeypatch.setattr(restore_mod, "RUN_PIECE_BYTES", 2 * m.piece_size)
    runs = read_runs(repo, m)
    for run in runs:
        held = sum(
            sum(1 for _, p in e.pieces if p) for e in (m.chunks[i] for i in run) if isinstance(e, Patched)
        )
        assert held * m.piece_size <= 2 * m.piece_size or len(run) == 1
    assert len(runs) > 5
    out = tmp_path / "out.raw"
    repo.restore_disk(ref, out)
    assert out.read_bytes() == data


def test_gaps_are_not_read_past_their_limit(snapshot, monkeypatch) -> None:
    repo, _backend, ref, _data = snapshot
    m = repo.get_manifest(ref)
    monkeypatch.setattr(restore_mod, "RUN_GAP", 0)  # block 10's old blob now splits the full's run
    runs = read_runs(repo, m)
    assert max(len(r) for r in runs) < BLOCKS - 1
    assert sorted(i for run in runs for i in run) == list(range(BLOCKS))


def test_fetch_block_reads_a_patched_block_in_two_reads(snapshot) -> None:
    repo, backend, ref, data = snapshot
    m = repo.get_manifest(ref)
    codec = repo.codec_for(m)
    backend.opened.clear()
    backend.ranges = 0
    assert isinstance(m.chunks[4], Patched) and len([p for _, p in m.chunks[4].pieces if p]) == 2
    assert fetch_block(repo, codec, m, 4) == data[4 * MiB : 5 * MiB]
    assert backend.ranges == 2  # the base, and both pieces with one read


def test_a_run_falls_back_block_by_block_when_its_pack_is_gone(snapshot, tmp_path: Path) -> None:
    _repo, backend, ref, data = snapshot

    class Vanished(CountingBackend):
        def open_range(self, key: str, offset: int, length: int) -> RangeReader:
            from t4o.vault.backend import ObjectNotFound

            raise ObjectNotFound(key)

    again = Repository.open(Vanished(backend.root))
    out = tmp_path / "out.raw"
    again.restore_disk(ref, out)  # every blob through get_blob, one by one
    assert out.read_bytes() == data
    assert again.backend.ranges > BLOCKS  # type: ignore[attr-defined]
    assert os.path.getsize(out) == len(data)
