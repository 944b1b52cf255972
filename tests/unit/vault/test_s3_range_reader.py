"""A restore's streamed ranged GET (S3Backend.open_range): read as it arrives, asked for again from where
a body was cut off (a fake S3 client)."""

from __future__ import annotations

import random
from typing import Any

import botocore.exceptions
import pytest

from t4o.vault.backend import BackendError, ObjectNotFound
from t4o.vault.s3 import S3Backend

OBJECT = random.Random(5).randbytes(300_000)


class Body:
    """A response body that breaks after ``cut`` bytes (None: never)."""

    def __init__(self, data: bytes, cut: int | None) -> None:
        self.data, self.pos, self.cut, self.closed = data, 0, cut, False

    def read(self, n: int) -> bytes:
        if self.cut is not None and self.pos >= self.cut:
            raise botocore.exceptions.ResponseStreamingError(error="connection reset")
        end = self.pos + min(n, 7000)  # a network read: fewer bytes than asked for
        if self.cut is not None:
            end = min(end, self.cut)
        out = self.data[self.pos : end]
        self.pos += len(out)
        return out

    def close(self) -> None:
        self.closed = True


class FakeS3:
    def __init__(self, cuts: list[int | None]) -> None:
        self.cuts, self.ranges, self.bodies = cuts, [], []

    def get_object(self, **kw: Any) -> dict[str, Any]:
        if kw["Key"] != "repo/data/pack":
            raise botocore.exceptions.ClientError({"Error": {"Code": "NoSuchKey"}}, "GetObject")
        first, last = (int(x) for x in kw["Range"].removeprefix("bytes=").split("-"))
        self.ranges.append((first, last))
        body = Body(OBJECT[first : last + 1], self.cuts.pop(0) if self.cuts else None)
        self.bodies.append(body)
        return {"Body": body}

    def close(self) -> None:
        pass


def backend_with(monkeypatch: pytest.MonkeyPatch, fake: FakeS3) -> S3Backend:
    monkeypatch.setattr(S3Backend, "_open_bucket", lambda self, **kwargs: None)
    backend = S3Backend("bkt", "repo", endpoint="http://127.0.0.1:9", access_key="a", secret_key="b")
    backend._s3 = fake
    return backend


def test_a_range_is_read_blob_by_blob_with_one_request(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeS3([None])
    reader = backend_with(monkeypatch, fake).open_range("data/pack", 1000, 250_000)
    assert reader.read(100_000) == OBJECT[1000:101_000]
    assert reader.read(150_000) == OBJECT[101_000:251_000]
    assert reader.read(10) == b""  # the end of the range
    reader.close()
    assert fake.ranges == [(1000, 250_999)] and fake.bodies[0].closed


def test_a_body_cut_off_is_asked_for_again_from_where_it_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeS3([50_000, 20_000, None])
    reader = backend_with(monkeypatch, fake).open_range("data/pack", 0, 200_000)
    assert reader.read(120_000) == OBJECT[:120_000]
    assert reader.read(80_000) == OBJECT[120_000:200_000]
    assert fake.ranges == [(0, 199_999), (50_000, 199_999), (70_000, 199_999)]
    assert all(body.closed for body in fake.bodies[:2])


def test_a_body_cut_off_every_time_fails_after_the_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeS3([10] * 20)
    reader = backend_with(monkeypatch, fake).open_range("data/pack", 0, 200_000)
    with pytest.raises(BackendError, match="get data/pack"):
        reader.read(200_000)
    assert len(fake.ranges) == 5  # the backend's attempts


def test_a_missing_pack_is_raised_when_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ObjectNotFound):
        backend_with(monkeypatch, FakeS3([])).open_range("data/gone", 0, 10)
