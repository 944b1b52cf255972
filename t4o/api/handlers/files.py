"""File recovery without a recovery VM: browse a snapshot disk's directories, download a file (HTTP
ranges honoured) or a directory as a tar stream, straight from the vault (t4o.workloads.file_browser).

A file name is bytes, in whatever encoding the guest used: entries show names as text and, when a
name is not UTF-8, its exact bytes in base64 (``name_raw``, ``path_raw``); ``path_raw`` names a path
by its exact bytes in a browse or a download (``t4o.filerecovery.names``).

A download is streamed in pieces as the filesystem reader yields them; everything that can fail
(the path, its type, the range) is checked before the first byte, so an error is an ordinary JSON
answer. Each download is logged with who took which file and how many bytes were sent.
"""

from __future__ import annotations

import contextlib
import logging
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

import flask

from t4o.api.handlers import Body, Query
from t4o.common import errors, rest
from t4o.common.context import RequestContext
from t4o.filerecovery import (
    FileRecoveryError,
    InvalidPath,
    IsADirectory,
    NotADirectory,
    NotFound,
    UnsupportedFilesystem,
    names,
    tar_directory,
)
from t4o.vault import VaultError
from t4o.workloads import file_browser
from t4o.workloads.file_browser import BROWSER, Located, OpenedDisk

LOG = logging.getLogger(__name__)

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@contextlib.contextmanager
def _answers() -> Iterator[None]:
    """File recovery and vault errors as the API's answers, each with its one-line message."""
    try:
        yield
    except errors.T4OError:
        raise
    except NotFound as exc:
        raise errors.NotFound(_shown(str(exc))) from exc
    except (NotADirectory, IsADirectory, InvalidPath) as exc:
        raise errors.BadRequest(_shown(str(exc))) from exc
    except UnsupportedFilesystem as exc:
        raise errors.Conflict(_shown(str(exc))) from exc
    except FileRecoveryError as exc:  # a tool that cannot read the filesystem, a symlink loop, ...
        raise errors.Conflict(_shown(str(exc))) from exc
    except VaultError as exc:  # the target is unavailable, the disk is missing or damaged
        raise errors.Conflict(f"The snapshot disk cannot be read from the backup target: {exc}") from exc


def _shown(text: str) -> str:
    """A path or message as one line of valid text, for an answer or the log: a byte that is not
    UTF-8 as U+FFFD, a line break in a name as ``\\n``."""
    return names.readable(text).replace("\n", "\\n").replace("\r", "\\r")


def _path(query: Query) -> str:
    """The path asked for: ``path`` as text, or ``path_raw`` as the base64 of its exact bytes."""
    if "path_raw" not in query:
        return str(query.get("path") or "/")
    if "path" in query:
        raise errors.BadRequest("Give the path as path or as path_raw, not both.")
    try:
        return names.from_base64(str(query["path_raw"]))
    except InvalidPath as exc:
        raise errors.BadRequest(f"Query parameter {exc}.") from exc


def _with_raw(view: dict[str, Any], key: str, text: str) -> dict[str, Any]:
    """``view`` with ``key`` as readable text, and ``key_raw`` when the text is not UTF-8."""
    view[key] = names.readable(text)
    if (raw := names.raw_base64(text)) is not None:
        view[key + "_raw"] = raw
    return view


def _partition(raw: str | None) -> int | str | None:
    if raw is None or raw == "":
        return None
    if raw.isdigit():
        return int(raw)
    if re.fullmatch(r"[^/\s]+/[^/\s]+", raw):
        return raw
    raise errors.BadRequest(
        f"Query parameter partition must be a partition number or an LV name vg/lv, not {raw!r}."
    )


def _filesystem(opened: OpenedDisk, raw: str | None) -> tuple[Any, Any]:
    """The volume asked for (the first readable filesystem without ``partition``) and its reader."""
    partition = _partition(raw)
    volumes = opened.volumes
    if partition is not None and not any(
        v.index == partition or (v.table == "lvm" and v.name == partition) for v in volumes
    ):
        found = ", ".join(f"{v.index} ({v.filesystem or 'unknown'})" for v in volumes) or "none"
        raise errors.BadRequest(f"The disk has no partition {partition}; its volumes: {found}.")
    volume = opened.volume(partition)
    return volume, opened.filesystem(volume.index)


def _volume_view(volume: Any) -> dict[str, Any]:
    out = volume.as_dict()
    out["start"] = out.pop("offset")
    return out


def browse(
    ctx: RequestContext, body: Body, query: Query, project_id: str, snapshot_id: str, vm_id: str, disk: str
) -> Any:
    where = file_browser.locate(ctx, "snapshot:browse", snapshot_id, vm_id, disk)
    path = _path(query)
    with _answers(), BROWSER.lease(where.ref, where.target_id, where.unlock) as opened:
        volume, fs = _filesystem(opened, query.get("partition"))
        directory = fs.resolve(path)
        entries = fs.list(directory.path)
        view = _with_raw({}, "path", directory.path)
        view.update(
            partition=volume.index,
            filesystem=volume.filesystem,
            volumes=[_volume_view(v) for v in opened.volumes],
            entries=[e.as_dict() for e in entries],
        )
        return {"browse": view}


def _content_disposition(name: str) -> str:
    """RFC 6266 with RFC 5987's ``filename*`` (UTF-8): a name that is not UTF-8 is given as its
    readable text (U+FFFD for each undecodable byte); its exact bytes are in the browse's name_raw."""
    name = names.readable(name)
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name) or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{urllib.parse.quote(name, safe='')}"


def _range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one byte range asked for as (start, end inclusive); None for the whole file (no header, or
    one this call does not serve: several ranges or another unit, which HTTP lets a server ignore).
    Raises _Unsatisfiable when the range is outside the file."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if first == "":
        if last == "" or int(last) == 0:
            raise _Unsatisfiable()
        return max(0, size - int(last)), size - 1
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if last != "" and int(last) < start:
        return None  # syntactically invalid: ignored
    if start >= size:
        raise _Unsatisfiable()
    return start, end


class _Unsatisfiable(Exception):
    pass


class _Body:
    """A download's body: the chunks as they come, then the lease released and the download logged.
    The WSGI server calls ``close`` whether or not it read the body (a HEAD request, a client gone)."""

    def __init__(
        self,
        chunks: Iterator[bytes],
        lease: contextlib.ExitStack,
        ctx: RequestContext,
        where: Located,
        what: str,
    ) -> None:
        self._chunks, self._lease, self._ctx, self._where, self._what = chunks, lease, ctx, where, what
        self._sent = 0
        self._outcome = "interrupted by the client"
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._chunks:
                self._sent += len(chunk)
                yield chunk
            self._outcome = "complete"
        except Exception as exc:  # the headers are gone: the client sees a short body
            self._outcome = f"failed: {_shown(str(exc))}"
            LOG.error(
                "download of %s from snapshot %s failed after %d bytes: %s",
                self._what,
                self._where.snapshot_id,
                self._sent,
                _shown(str(exc)),
            )

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        close = getattr(self._chunks, "close", None)
        if callable(close):
            with contextlib.suppress(Exception):
                close()
        self._lease.close()
        ctx, where = self._ctx, self._where
        LOG.info(
            "download by user %s of project %s: snapshot %s vm %s disk %s %s, %d bytes sent (%s)",
            ctx.user_id,
            ctx.project_id,
            where.snapshot_id,
            where.vm_id,
            where.disk,
            self._what,
            self._sent,
            self._outcome,
        )


def download(
    ctx: RequestContext, body: Body, query: Query, project_id: str, snapshot_id: str, vm_id: str, disk: str
) -> Any:
    where = file_browser.locate(ctx, "snapshot:download", snapshot_id, vm_id, disk)
    lease = contextlib.ExitStack()
    try:
        with _answers():
            path = _path(query)
            shown = _shown(path)
            opened = lease.enter_context(BROWSER.lease(where.ref, where.target_id, where.unlock))
            _, fs = _filesystem(opened, query.get("partition"))
            entry = fs.resolve(path)
            header = flask.request.headers.get("Range")
            headers: dict[str, str] = {"Accept-Ranges": "bytes"}
            status = 200
            if entry.type == "directory":
                if header:
                    raise errors.BadRequest(
                        f"{_shown(entry.path)} is a directory: a range can only be read from a file."
                    )
                name = (entry.name if entry.path != "/" else "root") + ".tar"
                chunks = tar_directory(fs, entry.path)
                mimetype = "application/x-tar"
                what = f"path {shown} (directory {_shown(entry.path)} as tar)"
            elif entry.type == "file":
                name = entry.name
                mimetype = "application/octet-stream"
                try:
                    wanted = _range(header, entry.size)
                except _Unsatisfiable:
                    lease.close()
                    resp = rest.error_response(
                        416, f"{_shown(entry.path)} has {entry.size} bytes: range {header} is outside it."
                    )
                    resp.headers["Content-Range"] = f"bytes */{entry.size}"
                    return resp
                if wanted is None:
                    start, length = 0, entry.size
                else:
                    start, length = wanted[0], wanted[1] - wanted[0] + 1
                    status = 206
                    headers["Content-Range"] = f"bytes {wanted[0]}-{wanted[1]}/{entry.size}"
                chunks = fs.read(entry.path, start, length)
                headers["Content-Length"] = str(length)
                what = (
                    f"path {shown} (file {_shown(entry.path)}, "
                    f"bytes {start}-{start + length - 1} of {entry.size})"
                )
            else:
                raise errors.BadRequest(f"{_shown(entry.path)} is a {entry.type}, not a file or a directory.")
    except BaseException:
        lease.close()
        raise
    headers["Content-Disposition"] = _content_disposition(name)
    resp = flask.Response(
        _Body(iter(chunks), lease, ctx, where, what),
        status=status,
        mimetype=mimetype,
        headers=headers,
        direct_passthrough=True,
    )
    return resp
