"""A vault repository in an S3 bucket (AWS S3, Ceph RGW, MinIO, SeaweedFS, ...), through boto3.

Each object is written with a single PUT, so a reader sees it whole or not at all. A pack (``new_object``)
is streamed into a multipart upload instead, part by part as it fills, so that no pack sits whole in
memory; S3 shows the object only when the upload is completed (whole or not at all again). An upload
that fails is aborted; one a dead process left open is aborted by ``sweep_temp`` (gc) a day later.
A pack smaller than one part still goes up with one PUT. A restore reads a run of a pack's blobs with one
ranged GET whose body it reads as it arrives (``open_range``), so a whole pack costs one request and no
more memory than a blob; a body cut off is asked for again from where it stopped. Object Lock is used in
COMPLIANCE mode: unlike GOVERNANCE mode, nobody (not even the holder of the bucket owner's keys, which
ransomware may steal) can shorten the retention or delete a locked version before its date.

On a bucket with object lock, the bucket is versioned: a plain DELETE only hides an object behind a delete
marker. ``delete`` therefore removes every version of the key, oldest first, so that space is really freed
and a refusal (a locked version) never brings an older version back to the surface.

With a ``source_address`` (a dedicated backup network), every connection to the endpoint is bound to
that local address before it connects. botocore has no option for it, so the client's urllib3 pool
manager is given urllib3's ``source_address``; if a botocore release changes that plumbing the backend
refuses to start rather than send backups over another network.
"""

from __future__ import annotations

import builtins
import contextlib
import datetime as dt
import ipaddress
import logging
import os
import socket
import tempfile
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import botocore.httpsession
import urllib3

from t4o.vault.backend import (
    Backend,
    BackendError,
    NotSupported,
    ObjectInfo,
    ObjectLocked,
    ObjectNotFound,
    ObjectWriter,
    RangeReader,
)

LOG = logging.getLogger(__name__)

DEFAULT_REGION = "us-east-1"
# Enough connections for a parallel uploader (the engine uses a few worker threads per core) plus listing.
DEFAULT_MAX_CONNECTIONS = 32
DEFAULT_MAX_ATTEMPTS = 5
MAX_SINGLE_PUT = 5 * 1024**3  # S3's limit for one PUT
MIN_PART = 5 * 1024**2  # S3's smallest part of a multipart upload (but the last)
# A 16 MiB pack goes up in three parts. Measured (1 GiB image, SeaweedFS): 8 MiB parts peaked 40 MiB
# higher at the same speed: every pack waiting to be finished holds its last part.
DEFAULT_PART_SIZE = MIN_PART
# The same integrity check as a single PUT (botocore adds CRC32 to it by default); a bucket with object
# lock requires a checksum on every part.
CHECKSUM = "CRC32"
STALE_UPLOAD = dt.timedelta(days=1)
# A restore reads up to this much of a pack with one GET, streamed blob by blob as it arrives (so it is
# not held whole): a whole default pack per request instead of one GET per 4 MiB.
RANGE_RUN_BYTES = 16 * 1024**2
LOCK_MODE = "COMPLIANCE"

_MISSING_KEY = {"NoSuchKey", "404", "NotFound", "NoSuchVersion"}
_BAD_CREDENTIALS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"}
_NO_LOCK_CONFIG = {"ObjectLockConfigurationNotFoundError", "NoSuchObjectLockConfiguration"}
_UNREACHABLE = (
    botocore.exceptions.EndpointConnectionError,
    botocore.exceptions.ConnectTimeoutError,
    botocore.exceptions.ConnectionClosedError,
    botocore.exceptions.ProxyConnectionError,
)


def parse_s3_url(url: str) -> tuple[str, str, dict[str, str]]:
    """Split ``s3://bucket/some/prefix?endpoint=http://host:port&region=r`` into its parts."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise BackendError(f"{url}: not an S3 URL (expected s3://BUCKET[/PREFIX][?endpoint=URL&region=NAME])")
    params = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(params) - {"endpoint", "region"})
    if unknown:
        raise BackendError(f"{url}: unknown parameter(s) {', '.join(unknown)} (known: endpoint, region)")
    return parts.netloc, parts.path.strip("/"), params


def check_source_address(address: str) -> str:
    """``address`` if it is an IP address of this host that a socket can bind, else BackendError."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise BackendError(f"source address {address!r} is not an IP address") from None
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((str(ip), 0))
        except OSError as exc:
            raise BackendError(
                f"source address {ip} is not an address of this host ({exc.strerror or exc}): give the "
                "address this host has on the backup network"
            ) from None
    return str(ip)


def bind_source_address(client: Any, address: str) -> None:
    """Make every connection of the boto3 ``client`` leave from ``address``.

    botocore builds its urllib3 PoolManager (and one per proxy) from
    ``URLLib3Session._get_pool_manager_kwargs``; urllib3 hands a pool manager's ``source_address`` to
    each connection, which binds it before connecting. Anything else found raises BackendError."""
    endpoint = getattr(client, "_endpoint", None)
    session = getattr(endpoint, "http_session", None)
    manager = getattr(session, "_manager", None)
    kwargs_of = getattr(session, "_get_pool_manager_kwargs", None)
    pool_kw = getattr(manager, "connection_pool_kw", None)
    if (
        not isinstance(session, botocore.httpsession.URLLib3Session)
        or not isinstance(manager, urllib3.PoolManager)
        or not callable(kwargs_of)
        or not isinstance(pool_kw, dict)
        or manager.pools.keys()  # pools already made would keep the default source
    ):
        raise BackendError(
            f"cannot bind S3 connections to the source address {address}: botocore "
            f"{botocore.__version__} builds its HTTP connections in a way this version of T4O does not "
            "know; unset the source address or use a botocore release T4O supports"
        )
    source = (address, 0)
    pool_kw["source_address"] = source

    def with_source(**extra: Any) -> Any:  # proxy managers are made later, from the same kwargs
        return kwargs_of(**extra, source_address=source)

    session._get_pool_manager_kwargs = with_source


def bound_addresses(client: Any) -> set[str]:
    """The local addresses of the client's open connections (a check that binding took effect)."""
    found: set[str] = set()
    session = getattr(getattr(client, "_endpoint", None), "http_session", None)
    managers = [getattr(session, "_manager", None), *getattr(session, "_proxy_managers", {}).values()]
    for manager in managers:
        if not isinstance(manager, urllib3.PoolManager):
            continue
        for key in list(manager.pools.keys()):
            pool = manager.pools.get(key)
            queue = getattr(getattr(pool, "pool", None), "queue", ())
            for conn in list(queue):
                sock: Any = getattr(conn, "sock", None)
                with contextlib.suppress(OSError, AttributeError):  # a free slot (None) or a closed socket
                    found.add(str(sock.getsockname()[0]))
    return found


def _unmapped(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC)


def _error_code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _error_message(exc: botocore.exceptions.ClientError) -> str:
    error = exc.response.get("Error", {})
    return str(error.get("Message") or error.get("Code") or exc)


class S3Backend(Backend):
    """One repository under ``prefix`` in ``bucket``.

    Credentials come from the arguments or else from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
    (and AWS_SESSION_TOKEN); the endpoint from the argument or AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL.
    The instance metadata service is never asked: a backup server is not an EC2 instance.

    ``create`` makes the bucket when it is missing (with object lock when ``object_lock``); otherwise a
    missing bucket is an error. ``object_lock`` also requires an existing bucket to have object lock.
    ``source_address``: the local address every connection leaves from (a dedicated backup network).
    ``part_size``: the parts of a pack's multipart upload (at least 5 MiB). ``index_cache_dir``: where
    index files read are kept (index.py's IndexCache); None: the default, "": no cache.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        session_token: str | None = None,
        create: bool = False,
        object_lock: bool = False,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
        source_address: str | None = None,
        part_size: int = DEFAULT_PART_SIZE,
        index_cache_dir: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._key_prefix = f"{self.prefix}/" if self.prefix else ""
        self.endpoint = (
            endpoint or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        )
        self.region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        self.region = self.region or DEFAULT_REGION
        location = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self.url = f"{location}?endpoint={self.endpoint}" if self.endpoint else location
        access_key = access_key or os.environ.get("AWS_ACCESS_KEY_ID")
        secret_key = secret_key or os.environ.get("AWS_SECRET_ACCESS_KEY")
        session_token = session_token or os.environ.get("AWS_SESSION_TOKEN")
        if not access_key or not secret_key:
            raise BackendError(
                f"{self.url}: no S3 credentials: give an access key and secret key "
                "or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            )
        config = botocore.config.Config(
            region_name=self.region,
            max_pool_connections=max_connections,
            retries={"mode": "standard", "total_max_attempts": max_attempts},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            tcp_keepalive=True,
            s3={"addressing_style": "path"},  # works with every S3 server; virtual hosts need DNS
        )
        self._max_attempts = max_attempts
        if part_size < MIN_PART:
            raise BackendError(f"{self.url}: part size {part_size} is below S3's minimum of {MIN_PART}")
        self.part_size = part_size
        # Unset: a directory of this user's in the system's temporary directory; empty: no cache.
        if index_cache_dir is None:
            index_cache_dir = os.path.join(tempfile.gettempdir(), f"t4o-index-cache-{os.getuid()}")
        self.index_cache_dir = index_cache_dir or None
        self.source_address: str | None = None
        if source_address:
            try:
                self.source_address = check_source_address(source_address)
            except BackendError as exc:
                raise BackendError(f"{self.url}: {exc}") from None
        try:
            session = boto3.session.Session(
                aws_access_key_id=access_key,
                aws_secret_access_key=secret_key,
                aws_session_token=session_token,
                region_name=self.region,
            )
            self._s3: Any = session.client("s3", endpoint_url=self.endpoint, config=config)
        except (ValueError, botocore.exceptions.BotoCoreError) as exc:
            raise BackendError(f"{self.url}: cannot set up the S3 client: {exc}") from exc
        try:
            if self.source_address:
                bind_source_address(self._s3, self.source_address)
            self.object_lock = False
            self._versioned = False
            self._open_bucket(create=create, object_lock=object_lock)
            self._check_source()
        except BaseException:
            self._s3.close()
            raise

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> S3Backend:
        """Open ``s3://bucket/prefix?endpoint=...&region=...``; keyword arguments as for the constructor."""
        bucket, prefix, params = parse_s3_url(url)
        if "endpoint" in params:
            kwargs.setdefault("endpoint", params["endpoint"])
        if "region" in params:
            kwargs.setdefault("region", params["region"])
        return cls(bucket, prefix, **kwargs)

    def _check_source(self) -> None:
        """After the first requests: the connections they left open came from the source address."""
        if not self.source_address:
            return
        wanted = ipaddress.ip_address(self.source_address)
        seen = bound_addresses(self._s3)
        wrong = sorted(a for a in seen if _unmapped(a) != wanted)
        if wrong:
            raise BackendError(
                f"{self.url}: S3 connections left from {', '.join(wrong)}, not from the source address "
                f"{self.source_address}: botocore {botocore.__version__} ignored it"
            )

    # -- errors ---------------------------------------------------------------------------------------

    def _translate(self, exc: Exception, action: str, key: str | None = None) -> BackendError:
        what = f"{action} {key}" if key is not None else action
        if isinstance(exc, _UNREACHABLE):
            return BackendError(
                f"{self.url}: cannot reach the S3 endpoint {self.endpoint or 'of AWS'}: {exc}"
            )
        if isinstance(exc, botocore.exceptions.ReadTimeoutError):
            return BackendError(f"{self.url}: {what}: the S3 endpoint did not answer in time: {exc}")
        if isinstance(exc, botocore.exceptions.ClientError):
            code = _error_code(exc)
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code == "NoSuchBucket":
                return BackendError(f"{self.url}: bucket {self.bucket!r} does not exist")
            if code in _MISSING_KEY and key is not None:
                return ObjectNotFound(f"{self.url}: no object {key!r}")
            if code in _BAD_CREDENTIALS:
                return BackendError(
                    f"{self.url}: the S3 credentials were rejected ({code}): {_error_message(exc)}"
                )
            if code in ("AccessDenied", "403") or status == 403:
                return BackendError(f"{self.url}: {what}: access denied: {_error_message(exc)}")
            return BackendError(f"{self.url}: {what} failed: {code or status}: {_error_message(exc)}")
        return BackendError(f"{self.url}: {what} failed: {exc}")

    @contextlib.contextmanager
    def _errors(self, action: str, key: str | None = None) -> Iterator[None]:
        try:
            yield
        except BackendError:
            raise
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise self._translate(exc, action, key) from exc

    # -- bucket ---------------------------------------------------------------------------------------

    def _open_bucket(self, *, create: bool, object_lock: bool) -> None:
        try:
            # A listing (unlike HEAD) returns an error code: missing bucket and bad keys are told apart.
            self._s3.list_objects_v2(Bucket=self.bucket, MaxKeys=1)
        except botocore.exceptions.ClientError as exc:
            if _error_code(exc) != "NoSuchBucket" or not create:
                raise self._translate(exc, "open bucket") from exc
            self._create_bucket(object_lock)
        except botocore.exceptions.BotoCoreError as exc:
            raise self._translate(exc, "open bucket") from exc
        with self._errors("read bucket settings"):
            versioning = self._s3.get_bucket_versioning(Bucket=self.bucket)
            self._versioned = versioning.get("Status") in ("Enabled", "Suspended")
            self.object_lock = self._bucket_has_lock()
        if object_lock and not self.object_lock:
            raise BackendError(
                f"{self.url}: bucket {self.bucket!r} exists without object lock; object lock can only be "
                "enabled when a bucket is created: use a new bucket"
            )

    def _create_bucket(self, object_lock: bool) -> None:
        args: dict[str, Any] = {"Bucket": self.bucket}
        if object_lock:
            args["ObjectLockEnabledForBucket"] = True
        if self.region != DEFAULT_REGION:
            args["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self._s3.create_bucket(**args)
        except botocore.exceptions.ClientError as exc:
            if _error_code(exc) not in ("BucketAlreadyOwnedByYou",):  # lost a race with another creator
                raise self._translate(exc, f"create bucket {self.bucket!r}") from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise self._translate(exc, f"create bucket {self.bucket!r}") from exc

    def _bucket_has_lock(self) -> bool:
        try:
            config = self._s3.get_object_lock_configuration(Bucket=self.bucket)
        except botocore.exceptions.ClientError as exc:
            if _error_code(exc) in _NO_LOCK_CONFIG:
                return False
            raise
        return config.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"

    # -- objects --------------------------------------------------------------------------------------

    def _full(self, key: str) -> str:
        if not key or any(part in ("", ".", "..") for part in key.split("/")):
            raise BackendError(f"{self.url}: invalid object key {key!r}")
        return self._key_prefix + key

    def put(self, key: str, data: bytes) -> None:
        full = self._full(key)
        if len(data) > MAX_SINGLE_PUT:
            raise BackendError(f"{self.url}: object {key!r} is {len(data)} bytes, over S3's single-PUT limit")
        with self._errors("put", key):
            self._s3.put_object(Bucket=self.bucket, Key=full, Body=data)

    def new_object(self, prefix: str) -> ObjectWriter:
        return MultipartWriter(self)

    def get(self, key: str) -> bytes:
        return self._get(key)

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        return self._get(key, f"bytes={offset}-{offset + length - 1}")

    range_run_bytes = RANGE_RUN_BYTES

    def open_range(self, key: str, offset: int, length: int) -> RangeReader:
        reader = _RangeReader(self, key, offset, length)
        reader.open()
        return reader

    def _get(self, key: str, byte_range: str | None = None) -> bytes:
        full = self._full(key)
        extra = {"Range": byte_range} if byte_range else {}
        for attempt in range(1, self._max_attempts + 1):
            with self._errors("get", key):
                body = self._s3.get_object(Bucket=self.bucket, Key=full, **extra)["Body"]
                try:
                    return bytes(body.read())
                except (botocore.exceptions.ResponseStreamingError, botocore.exceptions.IncompleteReadError):
                    # botocore retries the request but not a body cut off mid-stream: do that here.
                    if attempt == self._max_attempts:
                        raise
                finally:
                    body.close()
        raise AssertionError("unreachable")

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except ObjectNotFound:
            return False
        return True

    def stat(self, key: str) -> ObjectInfo:
        full = self._full(key)
        with self._errors("stat", key):
            head = self._s3.head_object(Bucket=self.bucket, Key=full)
        return ObjectInfo(key=key, size=int(head["ContentLength"]), mtime=_utc(head["LastModified"]))

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        strip = len(self._key_prefix)
        with self._errors("list", prefix or None):
            pages = self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._key_prefix + prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    yield ObjectInfo(
                        key=item["Key"][strip:], size=int(item["Size"]), mtime=_utc(item["LastModified"])
                    )

    def delete(self, key: str) -> None:
        full = self._full(key)
        if not self._versioned:
            with self._errors("delete", key):
                self._s3.delete_object(Bucket=self.bucket, Key=full)
            return
        for version_id in self._versions_oldest_first(key, full):
            try:
                self._s3.delete_object(Bucket=self.bucket, Key=full, VersionId=version_id)
            except botocore.exceptions.ClientError as exc:
                if _error_code(exc) in _MISSING_KEY:
                    continue  # removed meanwhile by someone else
                if _error_code(exc) == "AccessDenied":
                    until = self._retention(full, version_id)
                    if until is not None and until > dt.datetime.now(dt.UTC):
                        raise ObjectLocked(
                            f"{self.url}: {key!r} is under {LOCK_MODE.lower()} retention until "
                            f"{until.isoformat()} and cannot be deleted before then"
                        ) from exc
                raise self._translate(exc, "delete", key) from exc
            except botocore.exceptions.BotoCoreError as exc:
                raise self._translate(exc, "delete", key) from exc

    # builtins.list: inside this class ``list`` is the listing method
    def _versions_oldest_first(self, key: str, full: str) -> builtins.list[str]:
        entries: builtins.list[tuple[dt.datetime, bool, int, str]] = []
        with self._errors("list versions of", key):
            pages = self._s3.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=full)
            for page in pages:
                for kind in ("Versions", "DeleteMarkers"):
                    for item in page.get(kind, []):
                        if item["Key"] == full:
                            # S3 lists a key's versions newest first: keep that order for equal dates.
                            entries.append(
                                (
                                    item["LastModified"],
                                    item.get("IsLatest", False),
                                    -len(entries),
                                    item["VersionId"],
                                )
                            )
        entries.sort(key=lambda e: (e[0], e[1], e[2]))
        return [version_id for *_, version_id in entries]

    # -- object lock ----------------------------------------------------------------------------------

    def _retention(self, full: str, version_id: str | None = None) -> dt.datetime | None:
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": full}
        if version_id:
            args["VersionId"] = version_id
        try:
            retention = self._s3.get_object_retention(**args)["Retention"]
        except botocore.exceptions.ClientError as exc:
            if _error_code(exc) in _NO_LOCK_CONFIG or _error_code(exc) == "InvalidRequest":
                return None
            raise
        until = retention.get("RetainUntilDate")
        return _utc(until) if until is not None else None

    def lock_until(self, key: str, until: dt.datetime) -> None:
        full = self._full(key)
        if not self.object_lock:
            raise NotSupported(
                f"{self.url}: bucket {self.bucket!r} was created without object lock; "
                "immutable snapshots need a bucket created with object lock"
            )
        if until.tzinfo is None:
            raise BackendError(f"{self.url}: lock date {until.isoformat()} has no time zone")
        until = _utc(until)
        with self._errors("lock", key):
            current = self._retention(full)
            if current is not None and current >= until:
                return  # compliance retention can only be extended, and it already covers this date
            self._s3.put_object_retention(
                Bucket=self.bucket, Key=full, Retention={"Mode": LOCK_MODE, "RetainUntilDate": until}
            )

    def locked_until(self, key: str) -> dt.datetime | None:
        full = self._full(key)
        if not self.object_lock:
            return None
        with self._errors("read retention of", key):
            return self._retention(full)

    # -- multipart uploads ----------------------------------------------------------------------------

    def _start_upload(self, full: str) -> str:
        with self._errors("start upload of", full):
            answer = self._s3.create_multipart_upload(
                Bucket=self.bucket, Key=full, ChecksumAlgorithm=CHECKSUM
            )
        return str(answer["UploadId"])

    def _upload_part(self, full: str, upload_id: str, number: int, body: bytes) -> dict[str, Any]:
        with self._errors(f"upload part {number} of", full):
            answer = self._s3.upload_part(
                Bucket=self.bucket,
                Key=full,
                UploadId=upload_id,
                PartNumber=number,
                Body=body,
                ChecksumAlgorithm=CHECKSUM,
            )
        part: dict[str, Any] = {"PartNumber": number, "ETag": answer["ETag"]}
        if f"Checksum{CHECKSUM}" in answer:
            part[f"Checksum{CHECKSUM}"] = answer[f"Checksum{CHECKSUM}"]
        return part

    def _complete_upload(self, full: str, upload_id: str, parts: builtins.list[dict[str, Any]]) -> None:
        with self._errors("complete upload of", full):
            self._s3.complete_multipart_upload(
                Bucket=self.bucket, Key=full, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )

    def _abort_upload(self, full: str, upload_id: str) -> None:
        try:
            self._s3.abort_multipart_upload(Bucket=self.bucket, Key=full, UploadId=upload_id)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            if isinstance(exc, botocore.exceptions.ClientError) and _error_code(exc) == "NoSuchUpload":
                return
            # The upload stays open until gc's sweep_temp: its parts cost space, they are never read.
            LOG.warning(
                "%s: cannot abort the upload of %s: %s", self.url, full, self._translate(exc, "abort")
            )

    def open_uploads(self) -> Iterator[tuple[str, str, dt.datetime]]:
        """The multipart uploads open under this repository: (key, upload id, start time)."""
        strip = len(self._key_prefix)
        with self._errors("list uploads"):
            pages = self._s3.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=self._key_prefix
            )
            for page in pages:
                for item in page.get("Uploads", []):
                    yield item["Key"][strip:], item["UploadId"], _utc(item["Initiated"])

    def sweep_temp(self, older_than: dt.timedelta = STALE_UPLOAD) -> int:
        """Abort the multipart uploads that writers which died left open (the S3 side of a posix
        target's temporary files); returns how many. A pack takes seconds to upload: a day is safe."""
        cutoff = dt.datetime.now(dt.UTC) - older_than
        try:
            stale = [(key, upload) for key, upload, started in self.open_uploads() if started < cutoff]
        except BackendError as exc:  # e.g. keys allowed to write but not to list uploads: not gc's failure
            LOG.warning("%s: cannot list the open uploads to sweep them: %s", self.url, exc)
            return 0
        for key, upload in stale:
            self._abort_upload(self._key_prefix + key, upload)
        return len(stale)

    def close(self) -> None:
        self._s3.close()


class _RangeReader:
    """The body of one ranged GET, read as it arrives; a body cut off mid-stream is asked for again
    from where it stopped (botocore retries a request, not a body)."""

    def __init__(self, backend: S3Backend, key: str, offset: int, length: int) -> None:
        self.s3, self.key, self.full = backend, key, backend._full(key)
        self.pos, self.end = offset, offset + length
        self.body: Any = None

    def open(self) -> None:
        if self.pos >= self.end:
            return
        with self.s3._errors("get", self.key):
            answer = self.s3._s3.get_object(
                Bucket=self.s3.bucket, Key=self.full, Range=f"bytes={self.pos}-{self.end - 1}"
            )
        self.body = answer["Body"]

    def read(self, n: int, /) -> bytes:
        n = min(n, self.end - self.pos)
        got: builtins.list[bytes] = []
        have, failures = 0, 0
        while have < n and self.body is not None:
            try:
                data = self.body.read(n - have)
            except (
                botocore.exceptions.ResponseStreamingError,
                botocore.exceptions.IncompleteReadError,
                botocore.exceptions.ReadTimeoutError,
            ) as exc:
                failures += 1
                self.body.close()
                self.body = None
                if failures >= self.s3._max_attempts:
                    raise self.s3._translate(exc, "get", self.key) from exc
                self.open()
                continue
            if not data:  # the object is shorter than the range
                self.close()
                break
            got.append(data)
            have += len(data)
            self.pos += len(data)
        return got[0] if len(got) == 1 else b"".join(got)

    def close(self) -> None:
        if self.body is not None:
            self.body.close()
            self.body = None


class MultipartWriter(ObjectWriter):
    """A pack streamed into a multipart upload (see the module's doc).

    ``write`` only buffers (the pack writer calls it under its lock); ``drain``, called outside that
    lock, cuts the buffer into a part once it holds ``part_size`` bytes and uploads it, so parts go up
    while the backup goes on and at most about a part per writing thread is in memory. A part is cut
    only while the pack's expected size leaves at least half a part after it: the pack's tail goes into
    its last part instead of a small part of its own. ``commit`` uploads what is left, waits for the
    parts in flight and completes the upload; any failure aborts it."""

    def __init__(self, backend: S3Backend) -> None:
        super().__init__(backend)
        self.s3 = backend
        self.part_size = backend.part_size
        self.key: str | None = None
        self.expected = 0
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)  # notified when a part upload ends
        self._start_lock = threading.Lock()
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._cut = 0  # bytes cut into parts so far
        self._ready: list[tuple[int, list[bytes]]] = []  # parts cut, not yet being uploaded
        self._next_part = 1
        self._in_flight = 0
        self._done: list[dict[str, Any]] = []
        self._upload_id: str | None = None
        self._failed: BaseException | None = None
        self._closed = False
        self.parts_uploaded = 0

    def expect(self, key: str, size: int) -> None:
        self.key, self.expected = key, size

    def write(self, data: bytes) -> None:
        with self._lock:
            if self._closed:
                raise BackendError(f"{self.s3.url}: write to an upload already finished or aborted")
            self._buffer.append(data)
            self._buffered += len(data)
            if self.key is None or self._buffered < self.part_size:
                return
            if self.expected and self.expected - self._cut - self._buffered < self.part_size // 2:
                return  # the rest of the pack goes into the last part
            self._cut_part()

    def _cut_part(self) -> None:
        self._ready.append((self._next_part, self._buffer))
        self._next_part += 1
        self._cut += self._buffered
        self._buffer, self._buffered = [], 0

    def drain(self) -> None:
        while True:
            with self._lock:
                if not self._ready or self._closed or self._failed is not None:
                    return
                number, pieces = self._ready.pop(0)
                self._in_flight += 1
            self._send(number, pieces)

    def _send(self, number: int, pieces: list[bytes]) -> None:
        """Upload one part (``_in_flight`` counted it); a failure is kept for ``commit`` and raised."""
        assert self.key is not None
        full = self.s3._full(self.key)
        try:
            with self._start_lock:
                if self._upload_id is None:
                    self._upload_id = self.s3._start_upload(full)
            body = b"".join(pieces)
            del pieces[:]
            part = self.s3._upload_part(full, self._upload_id, number, body)
        except BaseException as exc:
            with self._lock:
                self._failed = self._failed or exc
                self._in_flight -= 1
                self._settled.notify_all()
            raise
        with self._lock:
            self._done.append(part)
            self.parts_uploaded += 1
            self._in_flight -= 1
            self._settled.notify_all()

    def commit(self, key: str) -> None:
        if self.key is not None and key != self.key:
            raise BackendError(f"{self.s3.url}: upload of {self.key} committed as {key}")
        with self._lock:
            if self._closed:
                raise BackendError(f"{self.s3.url}: upload of {key} already finished or aborted")
            single = self._next_part == 1 and self._upload_id is None
            if single:
                pieces, self._buffer, self._buffered = self._buffer, [], 0
                self._closed = True
            elif self._buffer:
                self._cut_part()
            tail, self._ready = self._ready, []
            self._in_flight += len(tail)
        if single:  # smaller than one part: one PUT
            self.s3.put(key, b"".join(pieces))
            return
        try:
            for n, (number, part) in enumerate(tail):
                try:
                    self._send(number, part)
                except BaseException:
                    with self._lock:  # the parts not sent are no longer in flight
                        self._in_flight -= len(tail) - n - 1
                    raise
            with self._lock:
                while self._in_flight:
                    self._settled.wait()
                if self._failed is not None:
                    raise self._failed
                self._closed = True
                parts = sorted(self._done, key=lambda p: p["PartNumber"])
            assert self._upload_id is not None
            self.s3._complete_upload(self.s3._full(key), self._upload_id, parts)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        with self._lock:
            self._closed = True
            self._buffer, self._ready = [], []
            while self._in_flight:  # a part still going up would outlive the abort
                self._settled.wait()
        with self._start_lock:
            upload, self._upload_id = self._upload_id, None
        if upload is not None and self.key is not None:
            self.s3._abort_upload(self.s3._full(self.key), upload)
