"""t4o.vault.s3 alone: URL parsing and how S3 answers become BackendError messages (botocore Stubber)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import botocore.exceptions
import pytest
from botocore.stub import Stubber

from t4o.vault.backend import BackendError, ObjectLocked, ObjectNotFound
from t4o.vault.s3 import S3Backend, parse_s3_url


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[S3Backend, Stubber]]:
    monkeypatch.setattr(S3Backend, "_open_bucket", lambda self, **kwargs: None)
    backend = S3Backend("bkt", "repo", endpoint="http://127.0.0.1:9", access_key="a", secret_key="b")
    with Stubber(backend._s3) as stubber:
        yield backend, stubber
        stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://bkt", ("bkt", "", {})),
        ("s3://bkt/", ("bkt", "", {})),
        ("s3://bkt/a/b/", ("bkt", "a/b", {})),
        ("s3://bkt/p?endpoint=http://127.0.0.1:8333", ("bkt", "p", {"endpoint": "http://127.0.0.1:8333"})),
        ("s3://bkt/p?region=eu-west-1", ("bkt", "p", {"region": "eu-west-1"})),
    ],
)
def test_parse_s3_url(url: str, expected: tuple[str, str, dict[str, str]]) -> None:
    assert parse_s3_url(url) == expected


@pytest.mark.parametrize("url", ["/srv/repo", "s3:///prefix", "https://bkt/p", "s3:bkt"])
def test_parse_s3_url_refuses(url: str) -> None:
    with pytest.raises(BackendError, match="not an S3 URL"):
        parse_s3_url(url)


def test_url_and_prefix(stubbed: tuple[S3Backend, Stubber]) -> None:
    backend, stubber = stubbed
    assert backend.url == "s3://bkt/repo?endpoint=http://127.0.0.1:9"
    stubber.add_response("put_object", {}, {"Bucket": "bkt", "Key": "repo/chunks/ab/cd", "Body": b"x"})
    backend.put("chunks/ab/cd", b"x")


def test_missing_key_is_object_not_found(stubbed: tuple[S3Backend, Stubber]) -> None:
    backend, stubber = stubbed
    stubber.add_client_error("get_object", "NoSuchKey", "The specified key does not exist.", 404)
    with pytest.raises(ObjectNotFound, match="no object 'a/b'"):
        backend.get("a/b")


def test_head_404_is_object_not_found(stubbed: tuple[S3Backend, Stubber]) -> None:
    backend, stubber = stubbed
    stubber.add_client_error("head_object", "404", "Not Found", 404)
    assert not backend.exists("a/b")


def test_bucket_gone_later(stubbed: tuple[S3Backend, Stubber]) -> None:
    backend, stubber = stubbed
    stubber.add_client_error("put_object", "NoSuchBucket", "The specified bucket does not exist", 404)
    with pytest.raises(BackendError, match="bucket 'bkt' does not exist"):
        backend.put("k", b"x")


def test_access_denied(stubbed: tuple[S3Backend, Stubber]) -> None:
    backend, stubber = stubbed
    stubber.add_client_error("put_object", "AccessDenied", "Access Denied.", 403)
    with pytest.raises(BackendError, match=r"put k: access denied: Access Denied\."):
        backend.put("k", b"x")


def test_other_error_names_the_code(stubbed: tuple[S3Backend, Stubber]) -> None:
    backend, stubber = stubbed
    stubber.add_client_error("put_object", "SlowDown", "Please reduce your request rate.", 503)
    with pytest.raises(BackendError, match=r"put k failed: SlowDown: Please reduce your request rate\."):
        backend.put("k", b"x")


def test_cut_off_body_is_read_again(stubbed: tuple[S3Backend, Stubber]) -> None:
    backend, stubber = stubbed

    class CutOff:
        def read(self) -> bytes:
            raise botocore.exceptions.ResponseStreamingError(error="connection reset")

        def close(self) -> None:
            pass

    class Whole:
        def read(self) -> bytes:
            return b"payload"

        def close(self) -> None:
            pass

    stubber.add_response("get_object", {"Body": CutOff()})
    stubber.add_response("get_object", {"Body": Whole()})
    assert backend.get("k") == b"payload"


def test_delete_of_a_locked_version(stubbed: tuple[S3Backend, Stubber]) -> None:
    backend, stubber = stubbed
    backend._versioned = True
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    stubber.add_response(
        "list_object_versions",
        {"Versions": [{"Key": "repo/m", "VersionId": "v1", "LastModified": when, "IsLatest": True}]},
    )
    stubber.add_client_error("delete_object", "AccessDenied", "Access Denied.", 403)
    stubber.add_response(
        "get_object_retention", {"Retention": {"Mode": "COMPLIANCE", "RetainUntilDate": until}}
    )
    with pytest.raises(ObjectLocked, match="'m' is under compliance retention until"):
        backend.delete("m")


def test_delete_removes_versions_oldest_first(stubbed: tuple[S3Backend, Stubber]) -> None:
    backend, stubber = stubbed
    backend._versioned = True
    t1 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    t2 = t1 + dt.timedelta(hours=1)
    stubber.add_response(
        "list_object_versions",
        {
            "Versions": [
                {"Key": "repo/m", "VersionId": "new", "LastModified": t2, "IsLatest": False},
                {"Key": "repo/m", "VersionId": "old", "LastModified": t1, "IsLatest": False},
                {"Key": "repo/m2", "VersionId": "other", "LastModified": t1, "IsLatest": True},
            ],
            "DeleteMarkers": [{"Key": "repo/m", "VersionId": "marker", "LastModified": t2, "IsLatest": True}],
        },
    )
    for version in ("old", "new", "marker"):
        stubber.add_response("delete_object", {}, {"Bucket": "bkt", "Key": "repo/m", "VersionId": version})
    backend.delete("m")


def test_lock_needs_a_lock_bucket(stubbed: tuple[S3Backend, Stubber]) -> None:
    backend, _ = stubbed
    with pytest.raises(BackendError, match="created without object lock"):
        backend.lock_until("m", dt.datetime.now(dt.UTC))
