"""S3 packs streamed as multipart uploads (a fake S3 client), and the local cache of index files."""

from __future__ import annotations

import datetime as dt
import os
import random
import threading
from pathlib import Path
from typing import Any

import blake3
import botocore.exceptions
import pytest

from t4o.vault.backend import BackendError
from t4o.vault.index import IndexCache, read_index_file
from t4o.vault.packs import PackedBlob, PackWriter, read_header
from t4o.vault.posix import PosixBackend
from t4o.vault.s3 import MIN_PART, S3Backend

MiB = 1024 * 1024


class FakeS3:
    """The calls the writer makes, and their bodies; ``fail_part`` makes that part number fail."""

    def __init__(self, fail_part: int | None = None) -> None:
        self.calls: list[str] = []
        self.parts: dict[int, bytes] = {}  # of the last upload a part number was sent to
        self.bodies: dict[tuple[str, int], bytes] = {}
        self.objects: dict[str, bytes] = {}
        self.uploads: dict[str, tuple[str, dt.datetime]] = {}  # id -> key, start
        self.completed: list[dict[str, Any]] = []
        self.fail_part = fail_part
        self.lock = threading.Lock()

    def _call(self, name: str) -> None:
        with self.lock:
            self.calls.append(name)

    def create_multipart_upload(self, **kw: Any) -> dict[str, Any]:
        self._call("create")
        assert kw["ChecksumAlgorithm"] == "CRC32"
        upload = f"up-{len(self.calls)}"  # never reused
        self.uploads[upload] = (kw["Key"], dt.datetime.now(dt.UTC))
        return {"UploadId": upload}

    def upload_part(self, **kw: Any) -> dict[str, Any]:
        self._call("part")
        assert kw["UploadId"] in self.uploads and kw["ChecksumAlgorithm"] == "CRC32"
        if kw["PartNumber"] == self.fail_part:
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "InternalError", "Message": "disk on fire"}}, "UploadPart"
            )
        self.parts[kw["PartNumber"]] = self.bodies[kw["UploadId"], kw["PartNumber"]] = kw["Body"]
        return {"ETag": f'"{kw["PartNumber"]}"', "ChecksumCRC32": f"crc{kw['PartNumber']}"}

    def complete_multipart_upload(self, **kw: Any) -> dict[str, Any]:
        self._call("complete")
        key, _ = self.uploads.pop(kw["UploadId"])
        self.completed.append(kw)
        numbers = [p["PartNumber"] for p in kw["MultipartUpload"]["Parts"]]
        self.objects[key] = b"".join(self.bodies[kw["UploadId"], n] for n in numbers)
        return {}

    def abort_multipart_upload(self, **kw: Any) -> dict[str, Any]:
        self._call("abort")
        self.uploads.pop(kw["UploadId"])
        return {}

    def put_object(self, **kw: Any) -> dict[str, Any]:
        self._call("put")
        self.objects[kw["Key"]] = kw["Body"]
        return {}

    def get_paginator(self, name: str) -> Any:
        assert name == "list_multipart_uploads"
        uploads = [{"Key": k, "UploadId": u, "Initiated": t} for u, (k, t) in self.uploads.items()]
        return type("Pages", (), {"paginate": lambda _self, **kw: [{"Uploads": uploads}]})()

    def close(self) -> None:
        pass


def s3_backend(monkeypatch: pytest.MonkeyPatch, fake: FakeS3, part_size: int = MIN_PART) -> S3Backend:
    monkeypatch.setattr(S3Backend, "_open_bucket", lambda self, **kwargs: None)
    backend = S3Backend(
        "bkt", "repo", endpoint="http://127.0.0.1:9", access_key="a", secret_key="b", part_size=part_size
    )
    backend._s3 = fake
    return backend


def blobs(count: int, size: int, seed: int = 0) -> list[tuple[str, bytes]]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        data = rng.randbytes(size)
        out.append((blake3.blake3(data).hexdigest(), data))
    return out


def write_pack(backend: S3Backend, items: list[tuple[str, bytes]], pack_size: int) -> list[PackedBlob]:
    written: list[PackedBlob] = []
    writer = PackWriter(lambda: backend.new_object("data/"), lambda _p, b: written.extend(b), pack_size)
    for blob_id, data in items:
        writer.add(blob_id, data, len(data))
    writer.flush()
    return written


def check_pack(fake: FakeS3, written: list[PackedBlob], items: list[tuple[str, bytes]]) -> None:
    (key,) = fake.objects
    data = fake.objects[key]
    assert key == f"repo/data/{written[0].pack[:2]}/{written[0].pack}"
    assert [(b.blob_id, b.offset, b.length) for b in read_header(data, "p")] == [
        (b.blob_id, b.offset, b.length) for b in written
    ]
    for b, (_blob_id, blob) in zip(written, items, strict=True):
        assert data[b.offset : b.offset + b.length] == blob


def test_a_pack_goes_up_in_parts_its_tail_in_the_last(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeS3()
    backend = s3_backend(monkeypatch, fake, part_size=8 * MiB)
    items = blobs(16, MiB)
    written = write_pack(backend, items, pack_size=16 * MiB)
    # 16 MiB of blobs and the header: two parts (8 MiB, then 8 MiB and the header), not a third small one.
    assert fake.calls == ["create", "part", "part", "complete"]
    assert len(fake.parts[1]) == 8 * MiB
    assert len(fake.parts[2]) == 8 * MiB + 16 * 44 + 12
    parts = fake.completed[0]["MultipartUpload"]["Parts"]
    assert parts == [
        {"PartNumber": 1, "ETag": '"1"', "ChecksumCRC32": "crc1"},
        {"PartNumber": 2, "ETag": '"2"', "ChecksumCRC32": "crc2"},
    ]
    check_pack(fake, written, items)
    assert not fake.uploads


def test_every_part_but_the_last_is_at_least_the_part_size(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeS3()
    backend = s3_backend(monkeypatch, fake, part_size=MIN_PART)
    items = blobs(36, 700 * 1024, seed=1)  # blobs that do not divide a part
    written = write_pack(backend, items, pack_size=24 * MiB)
    sizes = [len(fake.parts[n]) for n in sorted(fake.parts)]
    assert len(sizes) == 4, sizes
    assert all(s >= MIN_PART for s in sizes[:-1])
    assert sizes[-1] >= MIN_PART // 2  # the tail was kept for the last part
    check_pack(fake, written, items)


def test_a_pack_smaller_than_a_part_is_one_put(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeS3()
    backend = s3_backend(monkeypatch, fake)
    items = blobs(3, MiB, seed=2)
    written = write_pack(backend, items, pack_size=16 * MiB)
    assert fake.calls == ["put"]
    check_pack(fake, written, items)


@pytest.mark.parametrize("fail_part", [1, 2, 3])
def test_a_failed_part_aborts_the_upload(monkeypatch: pytest.MonkeyPatch, fail_part: int) -> None:
    fake = FakeS3(fail_part=fail_part)
    backend = s3_backend(monkeypatch, fake)
    writer = PackWriter(lambda: backend.new_object("data/"), lambda _p, _b: None, 16 * MiB)
    with pytest.raises(BackendError, match=f"upload part {fail_part} of .*disk on fire"):
        for blob_id, data in blobs(17, MiB, seed=3):
            writer.add(blob_id, data, len(data))
        writer.flush()
    writer.abort()  # what a failed backup does
    assert "complete" not in fake.calls and fake.calls.count("abort") == 1
    assert not fake.uploads and not fake.objects


def test_an_aborted_backup_aborts_its_open_upload(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeS3()
    backend = s3_backend(monkeypatch, fake)
    writer = PackWriter(lambda: backend.new_object("data/"), lambda _p, _b: None, 16 * MiB)
    for blob_id, data in blobs(7, MiB, seed=4):
        writer.add(blob_id, data, len(data))
    assert fake.calls == ["create", "part"] and fake.uploads
    writer.abort()
    assert fake.calls == ["create", "part", "abort"] and not fake.uploads


def test_parts_from_many_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeS3()
    backend = s3_backend(monkeypatch, fake)
    written: list[PackedBlob] = []
    writer = PackWriter(lambda: backend.new_object("data/"), lambda _p, b: written.extend(b), 12 * MiB)
    items = blobs(64, 512 * 1024, seed=5)
    by_id = dict(items)

    def add(mine: list[tuple[str, bytes]]) -> None:
        for blob_id, data in mine:
            writer.add(blob_id, data, len(data))

    threads = [threading.Thread(target=add, args=(items[n::4],)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.flush()
    assert len({b.pack for b in written}) == 3 and len(fake.objects) == 3 and not fake.uploads
    for b in written:
        data = fake.objects[f"repo/data/{b.pack[:2]}/{b.pack}"]
        assert data[b.offset : b.offset + b.length] == by_id[b.blob_id]


def test_part_size_below_the_minimum_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(BackendError, match="below S3's minimum"):
        s3_backend(monkeypatch, FakeS3(), part_size=MIN_PART - 1)


def test_sweep_temp_aborts_only_old_uploads(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeS3()
    backend = s3_backend(monkeypatch, fake)
    fake.uploads["old"] = ("repo/data/ab/old", dt.datetime.now(dt.UTC) - dt.timedelta(days=2))
    fake.uploads["new"] = ("repo/data/cd/new", dt.datetime.now(dt.UTC))
    assert [k for k, _u, _t in backend.open_uploads()] == ["data/ab/old", "data/cd/new"]
    assert backend.sweep_temp() == 1
    assert list(fake.uploads) == ["new"]


def test_sweep_temp_without_the_right_to_list_uploads_is_no_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeS3()
    backend = s3_backend(monkeypatch, fake)

    def denied(name: str) -> Any:
        raise botocore.exceptions.ClientError(
            {"Error": {"Code": "AccessDenied", "Message": "no"}}, "ListMultipartUploads"
        )

    monkeypatch.setattr(fake, "get_paginator", denied)
    assert backend.sweep_temp() == 0


# -- index cache ------------------------------------------------------------------------------------


def index_bytes(n: int) -> tuple[str, bytes]:
    data = f"index file {n}".encode() * 100
    return blake3.blake3(data).hexdigest(), data


class CountingBackend(PosixBackend):
    def __init__(self, root: Path) -> None:
        super().__init__(root, fsync=False)
        self.gets = 0

    def get(self, key: str) -> bytes:
        self.gets += 1
        return super().get(key)


def test_index_cache_reads_once_then_from_the_cache(tmp_path: Path) -> None:
    backend = CountingBackend(tmp_path / "repo")
    index_id, data = index_bytes(1)
    backend.put(f"index/{index_id}", data)
    cache = IndexCache(str(tmp_path / "cache"))
    assert read_index_file(backend, index_id, cache) == data
    assert read_index_file(backend, index_id, cache) == data
    assert backend.gets == 1 and (cache.hits, cache.misses) == (1, 1)
    assert os.stat(tmp_path / "cache").st_mode & 0o777 == 0o700
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [index_id]  # no temporary file left


def test_index_cache_drops_a_damaged_copy(tmp_path: Path) -> None:
    backend = CountingBackend(tmp_path / "repo")
    index_id, data = index_bytes(2)
    backend.put(f"index/{index_id}", data)
    cache = IndexCache(str(tmp_path / "cache"))
    cache.put(index_id, data)
    (tmp_path / "cache" / index_id).write_bytes(b"X" + data[1:])
    assert read_index_file(backend, index_id, cache) == data  # from the target again
    assert backend.gets == 1
    assert (tmp_path / "cache" / index_id).read_bytes() == data  # and cached again


def test_index_cache_evicts_least_recently_used(tmp_path: Path) -> None:
    files = [index_bytes(n) for n in range(4)]
    size = len(files[0][1])
    cache = IndexCache(str(tmp_path / "cache"), max_bytes=3 * size)
    for n, (index_id, data) in enumerate(files[:3]):
        cache.put(index_id, data)
        os.utime(tmp_path / "cache" / index_id, (1000 + n, 1000 + n))
    assert cache.get(files[0][0]) == files[0][1]  # used: now the most recent
    cache.put(*files[3])
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(
        [files[0][0], files[2][0], files[3][0]]
    )


def test_index_cache_refuses_a_directory_others_can_write(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    cache = IndexCache(str(shared))
    index_id, data = index_bytes(3)
    cache.put(index_id, data)
    assert cache.get(index_id) is None and not list(shared.iterdir())


def test_index_cache_ignores_names_that_are_not_index_ids(tmp_path: Path) -> None:
    backend = CountingBackend(tmp_path / "repo")
    backend.put("index/x", b"not an index")
    cache = IndexCache(str(tmp_path / "cache"))
    assert read_index_file(backend, "x", cache) == b"not an index"
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())
