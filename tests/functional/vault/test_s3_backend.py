"""S3Backend against a real SeaweedFS: bucket creation, prefixes, URLs and the error cases."""

from __future__ import annotations

import time
import uuid

import pytest

from t4o.vault.backend import BackendError
from t4o.vault.s3 import S3Backend
from tests.fixtures.s3 import S3Bucket, S3Server, free_ports


def test_creates_a_missing_bucket_when_asked(s3_server: S3Server) -> None:
    name = f"t4o-new-{uuid.uuid4().hex[:12]}"
    backend = S3Backend.from_url(
        f"s3://{name}/repo?endpoint={s3_server.endpoint}",
        access_key=s3_server.access_key,
        secret_key=s3_server.secret_key,
        create=True,
    )
    backend.put("config", b"c")
    client = s3_server.client()
    assert [o["Key"] for o in client.list_objects_v2(Bucket=name)["Contents"]] == ["repo/config"]
    assert not backend.object_lock
    # Opening it again (another process, a later run) finds the same bucket and object.
    again = S3Backend(
        name,
        "repo",
        endpoint=s3_server.endpoint,
        access_key=s3_server.access_key,
        secret_key=s3_server.secret_key,
    )
    assert again.get("config") == b"c"


def test_missing_bucket_is_a_clear_error(s3_server: S3Server) -> None:
    name = f"t4o-absent-{uuid.uuid4().hex[:12]}"
    with pytest.raises(BackendError, match=f"bucket '{name}' does not exist"):
        S3Backend(
            name,
            endpoint=s3_server.endpoint,
            access_key=s3_server.access_key,
            secret_key=s3_server.secret_key,
        )


def test_wrong_secret_key_is_a_clear_error(s3_bucket: S3Bucket) -> None:
    server = s3_bucket.server
    with pytest.raises(BackendError, match=r"credentials were rejected \(SignatureDoesNotMatch\)"):
        S3Backend(s3_bucket.name, endpoint=server.endpoint, access_key=server.access_key, secret_key="wrong")


def test_unknown_access_key_is_a_clear_error(s3_bucket: S3Bucket) -> None:
    server = s3_bucket.server
    with pytest.raises(BackendError, match=r"credentials were rejected \(InvalidAccessKeyId\)"):
        S3Backend(s3_bucket.name, endpoint=server.endpoint, access_key="nobody", secret_key="x")


def test_no_credentials_at_all(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    with pytest.raises(BackendError, match="no S3 credentials"):
        S3Backend(s3_bucket.name, endpoint=s3_bucket.server.endpoint)


def test_credentials_and_endpoint_from_the_standard_variables(
    s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = s3_bucket.server
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", server.secret_key)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", server.endpoint)
    backend = S3Backend.from_url(f"s3://{s3_bucket.name}/env")
    backend.put("k", b"v")
    assert backend.get("k") == b"v"
    assert backend.url == f"s3://{s3_bucket.name}/env?endpoint={server.endpoint}"


def test_endpoint_down_is_a_clear_error_and_quick() -> None:
    (port,) = free_ports(1)  # nothing listens there
    started = time.monotonic()
    with pytest.raises(BackendError, match=f"cannot reach the S3 endpoint http://127.0.0.1:{port}"):
        S3Backend(
            "bucket", endpoint=f"http://127.0.0.1:{port}", access_key="a", secret_key="b", max_attempts=2
        )
    assert time.monotonic() - started < 15


def test_prefixes_keep_repositories_apart(s3_bucket: S3Bucket) -> None:
    server = s3_bucket.server
    args = {"endpoint": server.endpoint, "access_key": server.access_key, "secret_key": server.secret_key}
    first = S3Backend(s3_bucket.name, "site-a/repo", **args)
    second = S3Backend(s3_bucket.name, "site-a/repo2", **args)  # shares a string prefix with the first
    whole = S3Backend(s3_bucket.name, "", **args)
    first.put("config", b"a")
    second.put("config", b"b")
    assert [i.key for i in first.list()] == ["config"]
    assert first.get("config") == b"a" and second.get("config") == b"b"
    assert sorted(i.key for i in whole.list()) == ["site-a/repo/config", "site-a/repo2/config"]
    first.delete("config")
    assert second.get("config") == b"b"


def test_bad_url() -> None:
    with pytest.raises(BackendError, match="not an S3 URL"):
        S3Backend.from_url("http://bucket/prefix", access_key="a", secret_key="b")
    with pytest.raises(BackendError, match="unknown parameter"):
        S3Backend.from_url("s3://bucket/prefix?endpiont=http://127.0.0.1:1", access_key="a", secret_key="b")
