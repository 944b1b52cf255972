"""Opening a backend from a location string: a filesystem path or ``s3://bucket/prefix?endpoint=...``."""

from __future__ import annotations

import importlib
from urllib.parse import urlsplit

from t4o.vault.backend import Backend
from t4o.vault.errors import InvalidArgument
from t4o.vault.posix import PosixBackend


def open_backend(
    url: str,
    *,
    create: bool = False,
    object_lock: bool = False,
    credentials: dict[str, str] | None = None,
    source_address: str | None = None,
    index_cache_dir: str | None = None,
) -> Backend:
    """Open the backup target at ``url``.

    ``create`` makes a missing S3 bucket (``init`` asks for it; other commands must not create a bucket
    by a typo); ``object_lock`` requires, or creates, a bucket with S3 Object Lock (immutable snapshots);
    ``credentials`` (``access_key``, ``secret_key``) are an S3 target's own keys (default: the
    environment's); ``source_address`` the local address an S3 target's connections leave from (a
    directory target's traffic follows the host's routes); ``index_cache_dir`` where an S3 target's
    index files are cached on this host (None: the default place; empty: no cache).
    """
    if not url:
        raise InvalidArgument("no repository location given")
    if url.startswith("s3://"):
        if not urlsplit(url).netloc:
            raise InvalidArgument(f"bad S3 location {url!r}: use s3://bucket/prefix?endpoint=URL")
        # Imported lazily: the S3 backend pulls in boto3, which posix-only users do not need.
        s3 = importlib.import_module("t4o.vault.s3")
        keys = credentials or {}
        cache = {} if index_cache_dir is None else {"index_cache_dir": index_cache_dir}
        return s3.S3Backend.from_url(
            url,
            create=create,
            object_lock=object_lock,
            access_key=keys.get("access_key") or None,
            secret_key=keys.get("secret_key") or None,
            source_address=source_address or None,
            **cache,
        )
    if "://" in url and not url.startswith("file://"):
        raise InvalidArgument(f"unsupported repository location {url!r} (a path or s3://...)")
    if object_lock:
        raise InvalidArgument(f"{url}: object lock needs an S3 bucket (s3://...), not a directory")
    return PosixBackend(url.removeprefix("file://"))
