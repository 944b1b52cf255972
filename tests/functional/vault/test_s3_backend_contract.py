"""The object-store contract every vault backend keeps, run against each real backend.

posix: a directory under the test's temp dir. s3: a fresh bucket on the session's SeaweedFS server.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from t4o.vault.backend import Backend, BackendError, NotSupported, ObjectNotFound
from t4o.vault.posix import PosixBackend
from t4o.vault.s3 import S3Backend
from tests.fixtures.s3 import S3Bucket


def open_s3(bucket: S3Bucket, prefix: str = "repo") -> S3Backend:
    server = bucket.server
    return S3Backend(
        bucket.name,
        prefix,
        endpoint=server.endpoint,
        access_key=server.access_key,
        secret_key=server.secret_key,
        create=True,
    )


@pytest.fixture(params=["posix", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "posix":
        store: Backend = PosixBackend(tmp_path / "repo")
    else:
        store = open_s3(request.getfixturevalue("s3_bucket"))
    yield store
    store.close()


def keys(store: Backend, prefix: str = "") -> set[str]:
    return {info.key for info in store.list(prefix)}


def test_put_then_get_returns_the_same_bytes(backend: Backend) -> None:
    data = os.urandom(1000) + b"\x00" * 1000
    backend.put("chunks/ab/abcdef", data)
    assert backend.get("chunks/ab/abcdef") == data
    assert backend.exists("chunks/ab/abcdef")


def test_empty_object(backend: Backend) -> None:
    backend.put("empty", b"")
    assert backend.get("empty") == b""
    assert backend.stat("empty").size == 0


def test_overwrite_replaces_the_whole_object(backend: Backend) -> None:
    backend.put("config", b"first version, longer than the second")
    backend.put("config", b"second")
    assert backend.get("config") == b"second"
    assert backend.stat("config").size == 6
    assert keys(backend) == {"config"}


def test_large_object(backend: Backend) -> None:
    data = os.urandom(24 * 1024 * 1024 + 123)  # over SeaweedFS's 4 MiB internal split and boto's 8 MiB
    backend.put("big", data)
    assert backend.stat("big").size == len(data)
    assert backend.get("big") == data


def test_missing_key(backend: Backend) -> None:
    assert not backend.exists("nothing/here")
    with pytest.raises(ObjectNotFound, match="nothing/here"):
        backend.get("nothing/here")
    with pytest.raises(ObjectNotFound):
        backend.stat("nothing/here")


def test_stat_gives_size_and_utc_mtime(backend: Backend) -> None:
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
    backend.put("snapshots/s1/manifest", b"x" * 4321)
    info = backend.stat("snapshots/s1/manifest")
    after = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    assert info.key == "snapshots/s1/manifest"
    assert info.size == 4321
    assert info.mtime.utcoffset() == dt.timedelta(0)
    assert before <= info.mtime <= after


def test_list_returns_final_keys_under_a_prefix(backend: Backend) -> None:
    assert keys(backend) == set()
    for key in ("chunks/00/0001", "chunks/00/0002", "chunks/ff/ff01", "snapshots/a/manifest", "config"):
        backend.put(key, key.encode())
    assert keys(backend) == {
        "chunks/00/0001",
        "chunks/00/0002",
        "chunks/ff/ff01",
        "snapshots/a/manifest",
        "config",
    }
    assert keys(backend, "chunks/") == {"chunks/00/0001", "chunks/00/0002", "chunks/ff/ff01"}
    assert keys(backend, "chunks/00/") == {"chunks/00/0001", "chunks/00/0002"}
    assert keys(backend, "nothing/") == set()
    sizes = {info.key: info.size for info in backend.list("snapshots/")}
    assert sizes == {"snapshots/a/manifest": len(b"snapshots/a/manifest")}


def test_delete(backend: Backend) -> None:
    backend.put("chunks/aa/aa01", b"data")
    backend.put("chunks/aa/aa02", b"data")
    backend.delete("chunks/aa/aa01")
    assert not backend.exists("chunks/aa/aa01")
    assert keys(backend) == {"chunks/aa/aa02"}
    with pytest.raises(ObjectNotFound):
        backend.get("chunks/aa/aa01")
    backend.delete("chunks/aa/aa01")  # absent is not an error
    backend.delete("never/existed")


@pytest.mark.parametrize("bad", ["", "/abs", "a//b", "a/../b", "./a", "a/"])
def test_invalid_keys_are_refused(backend: Backend, bad: str) -> None:
    with pytest.raises(BackendError, match="invalid object key"):
        backend.put(bad, b"x")


def test_object_lock_is_refused_or_absent_on_a_plain_target(backend: Backend) -> None:
    backend.put("snapshots/s1/manifest", b"m")
    with pytest.raises(NotSupported):
        backend.lock_until("snapshots/s1/manifest", dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    assert backend.locked_until("snapshots/s1/manifest") is None
    backend.delete("snapshots/s1/manifest")
    assert not backend.exists("snapshots/s1/manifest")


def test_parallel_puts_and_gets(backend: Backend) -> None:
    blobs = {f"chunks/{i % 16:02x}/{i:08x}": os.urandom(64 * 1024 + i) for i in range(96)}
    with ThreadPoolExecutor(max_workers=12) as pool:
        list(pool.map(lambda item: backend.put(*item), blobs.items()))
    assert keys(backend, "chunks/") == set(blobs)
    with ThreadPoolExecutor(max_workers=12) as pool:
        fetched = dict(zip(blobs, pool.map(backend.get, blobs), strict=True))
    assert fetched == blobs


def test_concurrent_overwrites_never_mix_objects(backend: Backend) -> None:
    """Writers racing on one key: a reader sees one writer's whole object, never a blend or a prefix."""
    versions = [bytes([n]) * (256 * 1024) for n in range(8)]
    stop = threading.Event()
    seen: list[bytes] = []

    def read_loop() -> None:
        while not stop.is_set():
            with contextlib.suppress(ObjectNotFound):
                seen.append(backend.get("index"))

    reader = threading.Thread(target=read_loop)
    reader.start()
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda v: backend.put("index", v), versions * 3))
    finally:
        stop.set()
        reader.join()
    assert backend.get("index") in versions
    assert all(value in versions for value in seen)
