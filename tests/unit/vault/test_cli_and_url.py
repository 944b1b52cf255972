"""The CLI's argument parsing and main() error handling; locations to backends."""

from __future__ import annotations

import json
import sys

import pytest

from t4o.vault import InvalidArgument, PosixBackend, cli
from t4o.vault.url import open_backend


def test_extents_file_formats(tmp_path):
    f = tmp_path / "e.json"
    f.write_text(json.dumps([[0, 10], [4096, 512]]))
    assert cli._extents(str(f)) == [(0, 10), (4096, 512)]
    # qemu-img map --output=json: only the ranges with data
    f.write_text(
        json.dumps([{"start": 0, "length": 100, "data": True}, {"start": 100, "length": 50, "data": False}])
    )
    assert cli._extents(str(f)) == [(0, 100)]
    f.write_text(json.dumps([[1, 2, 3]]))
    with pytest.raises(InvalidArgument, match="offset, length"):
        cli._extents(str(f))
    with pytest.raises(InvalidArgument, match="cannot read"):
        cli._extents(str(tmp_path / "missing"))


def test_sizes():
    assert cli._size(512) == "512 B" and cli._size(3 * 1024 * 1024) == "3.0 MiB"


def test_main_turns_errors_into_one_line(tmp_path, capsys):
    assert cli.main(["--repo", str(tmp_path / "none"), "info"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("t4o-vault: error: no repository") and err.count("\n") == 1


def test_password_file_and_env(tmp_path, monkeypatch):
    pw = tmp_path / "pw"
    pw.write_text("secret\n")
    assert cli.main(["--repo", str(tmp_path / "r"), "--password-file", str(pw), "init"]) == 0
    monkeypatch.setenv("T4O_VAULT_PASSWORD", "secret")
    assert cli.main(["--repo", str(tmp_path / "r"), "info"]) == 0
    monkeypatch.setenv("T4O_VAULT_PASSWORD", "wrong")
    assert cli.main(["--repo", str(tmp_path / "r"), "info"]) == 1


def test_open_backend(tmp_path, monkeypatch):
    b = open_backend(str(tmp_path))
    assert isinstance(b, PosixBackend) and b.root == tmp_path
    assert isinstance(open_backend(f"file://{tmp_path}"), PosixBackend)
    for bad in ("", "ftp://x/y", "s3:///nobucket"):
        with pytest.raises(InvalidArgument):
            open_backend(bad)

    class FakeS3:
        class S3Backend:
            @classmethod
            def from_url(cls, url, *, create, object_lock, access_key, secret_key, source_address):
                opened.append(source_address)
                return ("opened", url, create, object_lock, access_key, secret_key)

    opened: list[str | None] = []
    monkeypatch.setitem(sys.modules, "t4o.vault.s3", FakeS3)
    assert open_backend("s3://b/p?endpoint=http://127.0.0.1:1") == (
        "opened",
        "s3://b/p?endpoint=http://127.0.0.1:1",
        False,
        False,
        None,
        None,
    )
    keys = {"access_key": "ak", "secret_key": "sk"}  # a target's own keys (defined through the API)
    assert open_backend("s3://b/p", credentials=keys)[-2:] == ("ak", "sk")
    assert open_backend("s3://b", create=True, object_lock=True)[:4] == ("opened", "s3://b", True, True)
    open_backend("s3://b", source_address="127.0.0.2")  # the dedicated backup network's address
    assert opened == [None, None, None, "127.0.0.2"]
    with pytest.raises(InvalidArgument, match="object lock needs an S3 bucket"):
        open_backend(str(tmp_path), object_lock=True)
