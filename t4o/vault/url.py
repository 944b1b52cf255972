"""Opening a backend from a location string: a filesystem path or ``s3://bucket/prefix?endpoint=...``."""

from __future__ import annotations

import importlib
from urllib.parse import parse_qs, urlsplit

from t4o.vault.backend import Backend
from t4o.vault.errors import InvalidArgument
from t4o.vault.posix import PosixBackend


def open_backend(url: str) -> Backend:
    if not url:
        raise InvalidArgument("no repository location given")
    if url.startswith("s3://"):
        parts = urlsplit(url)
        if not parts.netloc:
            raise InvalidArgument(f"bad S3 location {url!r}: use s3://bucket/prefix?endpoint=URL")
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        # Imported lazily: the S3 backend pulls in boto3, which posix-only users do not need.
        s3 = importlib.import_module("t4o.vault.s3")
        return s3.S3Backend(parts.netloc, parts.path.strip("/"), **options)
    if "://" in url and not url.startswith("file://"):
        raise InvalidArgument(f"unsupported repository location {url!r} (a path or s3://...)")
    return PosixBackend(url.removeprefix("file://"))
