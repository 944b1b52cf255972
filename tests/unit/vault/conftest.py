"""Fixtures shared by the vault unit tests: small disk images in a temporary directory."""

from __future__ import annotations

import os

import pytest

from t4o.vault import PosixBackend, Repository

CS = 64 * 1024  # small chunks keep unit tests fast


def make_disk(path, blocks: list[bytes | None], cs: int = CS, tail: bytes = b"") -> str:
    """A raw image: each entry is one block's fill (None = hole), then an optional partial tail."""
    with open(path, "wb") as f:
        for i, fill in enumerate(blocks):
            if fill is not None:
                f.seek(i * cs)
                f.write((fill * cs)[:cs])
        f.truncate(len(blocks) * cs)
        f.seek(len(blocks) * cs)
        f.write(tail)
    return str(path)


@pytest.fixture
def repo(tmp_path) -> Repository:
    return Repository.init(PosixBackend(tmp_path / "repo", fsync=False), chunk_size=CS)


@pytest.fixture
def rand():
    return lambda n=CS: os.urandom(n)
