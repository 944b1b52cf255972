"""DiskReader: random reads of a disk in the vault against the bytes the test wrote, and what they cost."""

from __future__ import annotations

import os
import random
import threading

import pytest

from t4o.vault import (
    CorruptRepository,
    DiskReader,
    InvalidArgument,
    PosixBackend,
    Repository,
    SnapshotNotFound,
    backup_source,
    disk_checksum,
)
from tests.fixtures.vault_blobs import forget_blob, stored_sizes
from tests.unit.vault.conftest import CS

MiB = 1 << 20


def random_disk(path, size: int, chunk: int, seed: int) -> bytes:
    """Random blocks, holes (every third block zero) and a short tail: the model the reads are checked
    against."""
    rnd = random.Random(seed)
    data = bytearray(size)
    for i in range(0, size, chunk):
        if (i // chunk) % 3 != 1:
            n = min(chunk, size - i)
            data[i : i + n] = rnd.randbytes(n)
    path.write_bytes(bytes(data))
    return bytes(data)


def test_random_ranges_match_the_disk(repo, tmp_path):
    size = 40 * CS + 1234
    model = random_disk(tmp_path / "d.raw", size, CS, seed=1)
    m = backup_source(repo, str(tmp_path / "d.raw"), "vda", snapshot_id="s1")
    rnd = random.Random(2)
    with DiskReader(repo, "s1/vda", cache_mib=0.25) as disk:
        assert disk.size == size
        for _ in range(300):
            off = rnd.randrange(size)
            n = rnd.randrange(min(5 * CS, size - off) + 1)
            assert disk.read(off, n) == model[off : off + n], (off, n)
        # exactly on and around block boundaries, the last byte and the tail
        for off, n in ((CS - 1, 2), (CS, CS), (0, size), (size - 1, 1), (size - 1234, 1234), (size, 0)):
            assert disk.read(off, n) == model[off : off + n], (off, n)
    assert disk.data_extents()[0] == (0, CS)
    # it is a block source: the vault reads it back like any disk, only its data extents
    assert disk_checksum(repo, m, DiskReader(repo, "s1/vda")) == m.checksum
    assert sum(n for _, n in disk.data_extents()) == sum(
        min(CS, size - i * CS) for i, c in enumerate(m.chunks) if c
    )


@pytest.fixture
def big_repo(tmp_path) -> Repository:
    return Repository.init(PosixBackend(tmp_path / "repo1m", fsync=False))  # 1 MiB chunks


def test_one_mib_costs_at_most_two_chunks_and_zero_blocks_nothing(big_repo, tmp_path):
    model = random_disk(tmp_path / "d.raw", 12 * MiB, MiB, seed=3)
    backup_source(big_repo, str(tmp_path / "d.raw"), "vda", snapshot_id="s1")
    stored = stored_sizes(big_repo)
    disk = DiskReader(big_repo, "s1/vda", cache_mib=0)

    assert disk.read(3 * MiB, MiB) == model[3 * MiB : 4 * MiB]  # aligned: one chunk
    assert disk.stats().chunks_fetched == 1
    assert disk.read(5 * MiB + 4096, MiB) == model[5 * MiB + 4096 : 6 * MiB + 4096]  # unaligned: two
    st = disk.stats()
    assert st.chunks_fetched == 3
    m = disk.manifest
    want = [m.chunks[3], m.chunks[5], m.chunks[6]]
    assert st.bytes_fetched == sum(stored[c] for c in want)

    assert disk.read(MiB, MiB) == bytes(MiB)  # block 1 is a hole: nothing fetched
    assert disk.read(4 * MiB + 100, 1000) == bytes(1000)
    st = disk.stats()
    assert (st.chunks_fetched, st.zero_chunks, st.reads, st.bytes_read) == (3, 2, 4, 3 * MiB + 1000)


def test_the_cache_serves_small_reads_and_stays_bounded(big_repo, tmp_path):
    model = random_disk(tmp_path / "d.raw", 12 * MiB, MiB, seed=4)
    backup_source(big_repo, str(tmp_path / "d.raw"), "vda", snapshot_id="s1")
    disk = DiskReader(big_repo, "s1/vda", cache_mib=2)  # two chunks
    for off in range(0, MiB, 4096):  # a filesystem reader's 4 KiB reads: one fetch
        assert disk.read(off, 4096) == model[off : off + 4096]
    st = disk.stats()
    assert st.chunks_fetched == 1 and st.cache_hits == 255
    for block in (2, 3, 5):  # pushes block 0 out of a two-chunk cache
        disk.read(block * MiB, 10)
    assert disk.stats().chunks_fetched == 4
    disk.read(5 * MiB + 10, 10)  # still cached
    disk.read(0, 10)  # evicted: fetched again
    assert disk.stats().chunks_fetched == 5
    assert len(disk._cache) == 2


def test_threads_read_at_once_and_share_a_fetch(big_repo, tmp_path):
    size = 16 * MiB
    model = random_disk(tmp_path / "d.raw", size, MiB, seed=5)
    backup_source(big_repo, str(tmp_path / "d.raw"), "vda", snapshot_id="s1")
    disk = DiskReader(big_repo, "s1/vda", cache_mib=32)
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def reader(seed: int) -> None:
        rnd = random.Random(seed)
        try:
            start.wait()
            for _ in range(40):
                off = rnd.randrange(size)
                n = rnd.randrange(min(3 * MiB, size - off) + 1)
                assert disk.read(off, n) == model[off : off + n]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    # Every data block was fetched once however many threads wanted it (the cache holds them all).
    assert disk.stats().chunks_fetched <= sum(1 for c in disk.manifest.chunks if c)


def test_encrypted_workload_in_a_password_repository(tmp_path):
    repo = Repository.init(PosixBackend(tmp_path / "repo", fsync=False), password="pw", chunk_size=CS)
    model = random_disk(tmp_path / "d.raw", 10 * CS + 7, CS, seed=6)
    m = backup_source(repo, str(tmp_path / "d.raw"), "vda", snapshot_id="s1", workload_id="w")
    assert m.encrypted
    again = Repository.open(PosixBackend(tmp_path / "repo", fsync=False), password="pw")
    disk = DiskReader(again, "s1")  # the snapshot's only disk
    assert disk.read(CS - 5, 3 * CS) == model[CS - 5 : 4 * CS - 5]
    assert disk.read(0, disk.size) == model


def test_errors(repo, tmp_path):
    model = random_disk(tmp_path / "d.raw", 6 * CS, CS, seed=7)
    m = backup_source(repo, str(tmp_path / "d.raw"), "vda", snapshot_id="s1")
    disk = DiskReader(repo, m.ref)
    for off, n in ((-1, 1), (0, 6 * CS + 1), (6 * CS, 1), (5, -1)):
        with pytest.raises(InvalidArgument):
            disk.read(off, n)
    with pytest.raises(SnapshotNotFound):
        DiskReader(repo, "s1/vdb")
    with pytest.raises(InvalidArgument):
        DiskReader(repo, "s1/vda", cache_mib=-1)
    forget_blob(repo, m.chunks[2])
    disk = DiskReader(repo, m.ref)
    assert disk.read(0, 2 * CS) == model[: 2 * CS]
    with pytest.raises(CorruptRepository, match="block 2"):
        disk.read(2 * CS + 1, 10)


def test_a_long_sequential_read_is_read_ahead_and_a_short_one_is_not(repo, tmp_path):
    size = 24 * CS
    model = bytes(os.urandom(size))  # no zero block: every chunk is a fetch
    (tmp_path / "d.raw").write_bytes(model)
    backup_source(repo, str(tmp_path / "d.raw"), "vda", snapshot_id="s1")
    piece = CS // 4
    with DiskReader(repo, "s1/vda", cache_mib=16 * CS / MiB, readahead=4) as disk:
        # a small file: two chunks read in pieces costs exactly those two chunks
        for off in range(0, 2 * CS - piece, piece):
            assert disk.read(off, piece) == model[off : off + piece]
        assert disk.stats().prefetched == 0 and disk.stats().chunks_fetched == 2
    with DiskReader(repo, "s1/vda", cache_mib=16 * CS / MiB, readahead=4) as disk:
        out = bytearray()
        for off in range(0, size, piece):
            out += disk.read(off, piece)
        assert bytes(out) == model
        disk.close()  # waits for the fetches still running
        stats = disk.stats()
        assert stats.prefetched > 0
        assert stats.chunks_fetched == 24  # read ahead, never twice
        assert stats.cache_hits >= stats.prefetched  # what was read ahead was then read from the cache


def test_no_read_ahead_without_a_cache(repo, tmp_path):
    (tmp_path / "d.raw").write_bytes(os.urandom(8 * CS))
    backup_source(repo, str(tmp_path / "d.raw"), "vda", snapshot_id="s1")
    with DiskReader(repo, "s1/vda", cache_mib=0, readahead=4) as disk:
        assert disk.readahead == 0
        for off in range(0, 8 * CS, CS // 2):
            disk.read(off, CS // 2)
        assert disk.stats().prefetched == 0
