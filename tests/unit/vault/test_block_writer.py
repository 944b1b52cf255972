"""BlockWriter: a full read lists chunks/ once instead of looking up each new chunk."""

from __future__ import annotations

import os

from t4o.vault import PosixBackend, Repository
from t4o.vault.backup import BlockWriter
from t4o.vault.chunks import chunk_key


class CountingBackend(PosixBackend):
    exists_calls = 0

    def exists(self, key: str) -> bool:
        self.exists_calls += 1
        return super().exists(key)


def test_listing_replaces_lookups_and_still_dedups(tmp_path):
    backend = CountingBackend(tmp_path / "repo")
    store = Repository.init(backend)
    codec = store.codec("w", encrypted=False)
    old = [os.urandom(4096) for _ in range(3)]
    backend.exists_calls = 0
    first = BlockWriter(store, codec, set())
    ids = [first.store_block(b) for b in old]
    assert backend.exists_calls == 3  # without a listing, each unknown chunk is looked up
    known = store.chunk_ids()
    assert known == set(ids)
    backend.exists_calls = 0
    writer = BlockWriter(store, codec, known, complete=True)
    new = os.urandom(4096)
    for block in (*old, new, bytes(4096)):
        writer.store_block(block)
    assert backend.exists_calls == 0
    assert (writer.stats.dedup_chunks, writer.stats.new_chunks, writer.stats.zero_blocks) == (3, 1, 1)
    assert backend.exists(chunk_key(codec.chunk_id(new)))


def test_list_keys_matches_list_and_skips_temp_files(tmp_path):
    backend = PosixBackend(tmp_path / "repo")
    for key in ("chunks/ab/ab01", "chunks/cd/cd02", "snapshots/s/vda.json", "config"):
        backend.put(key, b"x")
    (tmp_path / "repo" / "chunks" / "ab" / ".tmp-partial").write_bytes(b"half")
    for prefix in ("", "chunks/", "chunks/a", "snapshots/", "nothing/"):
        assert sorted(backend.list_keys(prefix)) == sorted(i.key for i in backend.list(prefix)), prefix
    assert sorted(backend.list_keys("chunks/")) == ["chunks/ab/ab01", "chunks/cd/cd02"]
