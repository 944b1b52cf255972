"""PosixBackend: atomic puts, listing without temp files, clear errors."""

from __future__ import annotations

import datetime as dt
import errno
import os

import pytest

from t4o.vault.backend import BackendError, ObjectNotFound
from t4o.vault.posix import PosixBackend


def test_put_get_list_delete(tmp_path):
    b = PosixBackend(tmp_path)
    b.put("chunks/ab/abcd", b"hello")
    b.put("config", b"{}")
    assert b.get("chunks/ab/abcd") == b"hello"
    assert b.exists("config") and not b.exists("nope")
    assert sorted(i.key for i in b.list()) == ["chunks/ab/abcd", "config"]
    assert [i.key for i in b.list("chunks/")] == ["chunks/ab/abcd"]
    assert [i.key for i in b.list("chunks/ab/ab")] == ["chunks/ab/abcd"]
    info = b.stat("chunks/ab/abcd")
    assert info.size == 5 and info.mtime.tzinfo is not None
    b.delete("chunks/ab/abcd")
    b.delete("chunks/ab/abcd")  # absent is fine
    with pytest.raises(ObjectNotFound):
        b.get("chunks/ab/abcd")
    with pytest.raises(ObjectNotFound):
        b.stat("chunks/ab/abcd")


def test_put_replaces_and_leaves_no_temp(tmp_path):
    b = PosixBackend(tmp_path)
    b.put("a/b", b"1")
    b.put("a/b", b"22")
    assert b.get("a/b") == b"22"
    assert os.listdir(tmp_path / "a") == ["b"]


def test_list_skips_temp_files_and_sweep_removes_old_ones(tmp_path):
    b = PosixBackend(tmp_path)
    b.put("x/y", b"1")
    tmp = tmp_path / "x" / ".tmp-y.123"
    tmp.write_bytes(b"partial")
    assert [i.key for i in b.list()] == ["x/y"]
    old = (dt.datetime.now() - dt.timedelta(hours=2)).timestamp()
    os.utime(tmp, (old, old))
    assert b.sweep_temp() == 1
    assert not tmp.exists()


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "./a", "a/.tmp-x"])
def test_bad_keys_are_refused(tmp_path, key):
    with pytest.raises(BackendError):
        PosixBackend(tmp_path).put(key, b"x")


def test_full_filesystem_is_a_clear_error_and_leaves_nothing(tmp_path, monkeypatch):
    b = PosixBackend(tmp_path)

    def no_space(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", no_space)
    with pytest.raises(BackendError, match="backup target is full"):
        b.put("chunks/aa/aa", b"data")
    monkeypatch.undo()
    assert list(b.list()) == []
    assert os.listdir(tmp_path / "chunks" / "aa") == []


def test_missing_root_lists_nothing(tmp_path):
    assert list(PosixBackend(tmp_path / "absent").list()) == []
