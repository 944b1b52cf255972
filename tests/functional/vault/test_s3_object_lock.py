"""S3 Object Lock on a real SeaweedFS: a locked object cannot be deleted before its retention date.

Pins what SeaweedFS 4.48 does: it supports bucket object lock (the bucket is versioned), per-object
retention in COMPLIANCE mode, refuses to delete a locked version with AccessDenied (even with the
governance bypass header) and turns a plain DELETE into a delete marker.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid

import botocore.exceptions
import pytest

from t4o.vault.backend import BackendError, NotSupported, ObjectLocked
from t4o.vault.s3 import S3Backend
from tests.fixtures.s3 import S3Bucket, S3Server

RETENTION = dt.timedelta(seconds=4)


def open_backend(bucket: S3Bucket, **kwargs: object) -> S3Backend:
    server = bucket.server
    return S3Backend(
        bucket.name,
        "repo",
        endpoint=server.endpoint,
        access_key=server.access_key,
        secret_key=server.secret_key,
        **kwargs,  # type: ignore[arg-type]
    )


def versions(server: S3Server, bucket: str, key: str) -> list[str]:
    listing = server.client().list_object_versions(Bucket=bucket, Prefix=key)
    return [v["VersionId"] for kind in ("Versions", "DeleteMarkers") for v in listing.get(kind, [])]


def wait_until(moment: dt.datetime) -> None:
    time.sleep(max(0.0, (moment - dt.datetime.now(dt.UTC)).total_seconds()) + 1.0)


def test_locked_object_cannot_be_deleted_before_its_date(s3_lock_bucket: S3Bucket) -> None:
    backend = open_backend(s3_lock_bucket, object_lock=True)
    assert backend.object_lock
    backend.put("snapshots/s1/manifest", b"manifest")
    until = (dt.datetime.now(dt.UTC) + RETENTION).replace(microsecond=0)
    backend.lock_until("snapshots/s1/manifest", until)
    assert backend.locked_until("snapshots/s1/manifest") == until

    with pytest.raises(ObjectLocked, match=r"'snapshots/s1/manifest' is under compliance retention until"):
        backend.delete("snapshots/s1/manifest")
    # Still there, whole and listed: the refusal left no delete marker in front of it.
    assert backend.get("snapshots/s1/manifest") == b"manifest"
    assert [i.key for i in backend.list("snapshots/")] == ["snapshots/s1/manifest"]

    wait_until(until)
    backend.delete("snapshots/s1/manifest")
    assert not backend.exists("snapshots/s1/manifest")
    assert versions(s3_lock_bucket.server, s3_lock_bucket.name, "repo/snapshots/s1/manifest") == []


def test_retention_is_compliance_mode_and_the_server_enforces_it(s3_lock_bucket: S3Bucket) -> None:
    """Bypassing the client: the server itself refuses, even with the governance bypass header."""
    backend = open_backend(s3_lock_bucket)
    backend.put("chunks/aa/aa01", b"chunk")
    backend.lock_until("chunks/aa/aa01", dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5))
    client = s3_lock_bucket.server.client()
    retention = client.get_object_retention(Bucket=s3_lock_bucket.name, Key="repo/chunks/aa/aa01")[
        "Retention"
    ]
    assert retention["Mode"] == "COMPLIANCE"
    (version,) = versions(s3_lock_bucket.server, s3_lock_bucket.name, "repo/chunks/aa/aa01")
    with pytest.raises(botocore.exceptions.ClientError, match="AccessDenied"):
        client.delete_object(
            Bucket=s3_lock_bucket.name,
            Key="repo/chunks/aa/aa01",
            VersionId=version,
            BypassGovernanceRetention=True,
        )
    # A compliance retention cannot be shortened either.
    with pytest.raises(botocore.exceptions.ClientError):
        client.put_object_retention(
            Bucket=s3_lock_bucket.name,
            Key="repo/chunks/aa/aa01",
            Retention={
                "Mode": "COMPLIANCE",
                "RetainUntilDate": dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1),
            },
        )
    assert backend.get("chunks/aa/aa01") == b"chunk"


def test_plain_delete_on_a_versioned_bucket_only_hides_the_object(s3_lock_bucket: S3Bucket) -> None:
    """Why delete() removes versions: SeaweedFS (like AWS) answers a plain DELETE with a delete marker."""
    client = s3_lock_bucket.server.client()
    client.put_object(Bucket=s3_lock_bucket.name, Key="k", Body=b"1")
    answer = client.delete_object(Bucket=s3_lock_bucket.name, Key="k")
    assert answer["DeleteMarker"] is True
    assert len(versions(s3_lock_bucket.server, s3_lock_bucket.name, "k")) == 2  # the data and the marker


def test_lock_can_be_extended_but_not_shortened(s3_lock_bucket: S3Bucket) -> None:
    backend = open_backend(s3_lock_bucket)
    backend.put("m", b"x")
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)).replace(microsecond=0)
    backend.lock_until("m", later - dt.timedelta(minutes=5))
    backend.lock_until("m", later)
    assert backend.locked_until("m") == later
    backend.lock_until("m", later - dt.timedelta(minutes=8))  # already covered: kept as it is
    assert backend.locked_until("m") == later


def test_overwritten_object_loses_every_version_on_delete(s3_lock_bucket: S3Bucket) -> None:
    backend = open_backend(s3_lock_bucket)
    for n in range(3):
        backend.put("index", bytes([n]))
    assert len(versions(s3_lock_bucket.server, s3_lock_bucket.name, "repo/index")) == 3
    backend.delete("index")
    assert versions(s3_lock_bucket.server, s3_lock_bucket.name, "repo/index") == []


def test_locked_old_version_keeps_the_newest_visible(s3_lock_bucket: S3Bucket) -> None:
    """A refused delete never brings an older version back to the surface nor hides the current one."""
    backend = open_backend(s3_lock_bucket)
    backend.put("doc", b"old")
    backend.lock_until("doc", dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5))
    backend.put("doc", b"new")
    assert backend.locked_until("doc") is None  # the lock is on the old version only
    with pytest.raises(ObjectLocked):
        backend.delete("doc")
    assert backend.get("doc") == b"new"


def test_lock_without_object_lock_bucket(s3_bucket: S3Bucket) -> None:
    backend = open_backend(s3_bucket)
    backend.put("m", b"x")
    with pytest.raises(NotSupported, match="created without object lock"):
        backend.lock_until("m", dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    assert backend.locked_until("m") is None


def test_requiring_object_lock_on_a_plain_bucket_is_refused(s3_bucket: S3Bucket) -> None:
    with pytest.raises(BackendError, match="exists without object lock"):
        open_backend(s3_bucket, object_lock=True)


def test_create_with_object_lock(s3_server: S3Server) -> None:
    bucket = S3Bucket(s3_server, f"t4o-lock-{uuid.uuid4().hex[:12]}")
    backend = open_backend(bucket, create=True, object_lock=True)
    assert backend.object_lock
    config = s3_server.client().get_object_lock_configuration(Bucket=bucket.name)
    assert config["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"


def test_lock_date_needs_a_time_zone(s3_lock_bucket: S3Bucket) -> None:
    backend = open_backend(s3_lock_bucket)
    backend.put("m", b"x")
    with pytest.raises(BackendError, match="no time zone"):
        backend.lock_until("m", dt.datetime.now() + dt.timedelta(days=1))  # naive on purpose
