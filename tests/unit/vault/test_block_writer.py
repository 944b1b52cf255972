"""BlockWriter: the index answers dedup lookups without a request; blobs go into packs."""

from __future__ import annotations

import os

from t4o.vault import PosixBackend, Repository
from t4o.vault.backup import BlockWriter
from t4o.vault.manifest import Patched
from t4o.vault.packs import pack_id_of, read_header


class CountingBackend(PosixBackend):
    exists_calls = 0

    def exists(self, key: str) -> bool:
        self.exists_calls += 1
        return super().exists(key)


def test_the_index_replaces_lookups_and_still_dedups(tmp_path):
    backend = CountingBackend(tmp_path / "repo")
    store = Repository.init(backend)
    codec = store.codec("w", encrypted=False)
    old = [os.urandom(4096) for _ in range(3)]
    first_session = store.blob_session()
    first = BlockWriter(store, codec, first_session, set())
    ids = [first.store_block(b) for b in old]
    assert first_session.finish() is not None  # one pack, one index file
    assert {b.blob_id for b in store.reload_index()} == set(ids)
    backend.exists_calls = 0
    session = store.blob_session()
    writer = BlockWriter(store, codec, session, set())
    new = os.urandom(4096)
    for block in (*old, new, bytes(4096), new):
        writer.store_block(block)
    session.finish()
    assert backend.exists_calls == 0  # a repository born in format 2 has no chunk objects to look up
    assert (writer.stats.dedup_chunks, writer.stats.new_chunks, writer.stats.zero_blocks) == (4, 1, 1)
    assert store.reload_index().find(codec.chunk_id(new)) is not None
    assert len(list(backend.list("data/"))) == 2 and len(list(backend.list("index/"))) == 2


def test_a_block_changed_in_a_few_pieces_is_stored_as_a_patch(tmp_path):
    store = Repository.init(PosixBackend(tmp_path / "repo"))
    codec = store.codec("w", encrypted=False)
    ps = store.piece_size
    block = bytearray(os.urandom(store.chunk_size))
    session = store.blob_session()
    writer = BlockWriter(store, codec, session, set())
    parent = writer.store_block(bytes(block))
    assert isinstance(parent, str)
    block[3 * ps + 10 : 3 * ps + 20] = os.urandom(10)  # one 4 KiB page in piece 3
    patched = writer.store_block(bytes(block), parent, {3})
    assert isinstance(patched, Patched) and patched.base == parent
    assert [n for n, _ in patched.pieces] == [3] and patched.digest == codec.chunk_id(bytes(block))
    # Half the pieces or fewer stay a patch (of the same base); more become a whole block again.
    for n in range(4, 8):
        block[n * ps] ^= 1
    again = writer.store_block(bytes(block), patched, set(range(4, 8)))
    assert isinstance(again, Patched) and again.base == parent and len(again.pieces) == 5
    for n in range(8, 12):
        block[n * ps] ^= 1
    whole = writer.store_block(bytes(block), again, set(range(8, 12)))
    assert whole == codec.chunk_id(bytes(block))
    assert writer.stats.patched_blocks == 2 and writer.stats.new_pieces == 5


def test_list_keys_matches_list_and_skips_temp_files(tmp_path):
    backend = PosixBackend(tmp_path / "repo")
    for key in ("chunks/ab/ab01", "chunks/cd/cd02", "snapshots/s/vda.json", "config"):
        backend.put(key, b"x")
    (tmp_path / "repo" / "chunks" / "ab" / ".tmp-partial").write_bytes(b"half")
    for prefix in ("", "chunks/", "chunks/a", "snapshots/", "nothing/"):
        assert sorted(backend.list_keys(prefix)) == sorted(i.key for i in backend.list(prefix)), prefix
    assert sorted(backend.list_keys("chunks/")) == ["chunks/ab/ab01", "chunks/cd/cd02"]


def test_a_pack_describes_its_own_blobs(tmp_path):
    store = Repository.init(PosixBackend(tmp_path / "repo"))
    codec = store.codec("w", encrypted=False)
    session = store.blob_session()
    blocks = [os.urandom(4096) for _ in range(3)]
    for block in blocks:
        session.put(codec, codec.chunk_id(block), block)
    session.finish()
    (pack,) = list(store.list_packs())
    described = read_header(store.backend.get(pack.key), pack_id_of(pack.key))
    assert [b.blob_id for b in described] == [codec.chunk_id(b) for b in blocks]
    assert described == sorted(store.reload_index(), key=lambda b: b.offset)  # the index agrees
