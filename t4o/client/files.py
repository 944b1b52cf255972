"""File recovery downloads: a snapshot file's bytes, or a directory as a tar stream, written to a file
object piece by piece (never held in memory), with the checks that tell a complete download from one
that stopped early.

A file name is bytes: a path is held as ``str`` with each byte that is not UTF-8 as a lone surrogate
(as Python hands over such a command-line argument), and sent as ``path_raw``, the base64 of its
exact bytes, when it is not valid UTF-8.
"""

from __future__ import annotations

import base64
import binascii
import re
import tarfile
import time
import urllib.parse
from collections.abc import Callable
from typing import IO, Any

import requests

from t4o.client import exceptions as exc

CHUNK = 256 * 1024
BLOCK = 512

# progress(bytes written so far, bytes expected or None when unknown (a directory's tar))
Progress = Callable[[int, int | None], None]

_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


def path_query(path: str) -> dict[str, str]:
    """The query parameter naming ``path``: ``path`` as text, or ``path_raw`` for a path that is not
    valid UTF-8."""
    raw = path.encode("utf-8", "surrogateescape")
    try:
        return {"path": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"path_raw": base64.b64encode(raw).decode("ascii")}


def path_from_raw(value: str) -> str:
    """A path given as the base64 of its bytes (an entry's ``path_raw``); ValueError if it is not."""
    text = value.strip().replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as err:
        raise ValueError(f"not base64: {value!r}") from err
    if not raw:
        raise ValueError("an empty path")
    return raw.decode("utf-8", "surrogateescape")


def shown(path: str) -> str:
    """A path as valid text for a message: each byte that is not UTF-8 as U+FFFD."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def range_header(offset: int | None, length: int | None) -> str | None:
    """The ``Range`` header of ``length`` bytes from ``offset`` (either may be None)."""
    if offset is None and length is None:
        return None
    start = offset or 0
    if start < 0:
        raise ValueError(f"offset must be 0 or more, not {start}")
    if length is None:
        return f"bytes={start}-"
    if length < 1:
        raise ValueError(f"length must be 1 or more, not {length}")
    return f"bytes={start}-{start + length - 1}"


def filename_of(disposition: str | None, fallback: str) -> str:
    """The file name of a ``Content-Disposition`` header (``filename*`` first), else ``fallback``;
    never a path: only its last part."""
    name = ""
    if disposition:
        star = re.search(r"filename\*\s*=\s*UTF-8''([^;]+)", disposition, re.IGNORECASE)
        plain = re.search(r'filename\s*=\s*"([^"]*)"', disposition, re.IGNORECASE)
        if star:
            name = urllib.parse.unquote(star.group(1).strip())
        elif plain:
            name = plain.group(1)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    return name if name not in ("", ".", "..") else fallback


class TarEnd:
    """Follows a tar stream's blocks (headers, data, pax records) to tell whether it reached the
    end-of-archive marker (two zero blocks where a header is due): a tar stream has no length, so a
    server that stops sending part-way ends the body early yet cleanly."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._skip = 0  # data bytes (with padding) before the next header
        self._zeros = 0
        self._pax_size: int | None = None
        self._pax_left = 0  # the pax record being read
        self._pax_data = bytearray()
        self.complete = False
        self.damaged = ""

    def feed(self, data: bytes) -> None:
        if self.complete or self.damaged:
            return
        view = memoryview(data)
        while view:
            if self._skip:
                take = min(self._skip, len(view))
                if self._pax_left:
                    keep = min(self._pax_left, take)
                    self._pax_data += view[:keep]
                    self._pax_left -= keep
                    if not self._pax_left:
                        self._pax_size = _pax_size(bytes(self._pax_data))
                self._skip -= take
                view = view[take:]
                continue
            take = min(BLOCK - len(self._buf), len(view))
            self._buf += view[:take]
            view = view[take:]
            if len(self._buf) == BLOCK:
                self._header(bytes(self._buf))
                self._buf.clear()
                if self.complete or self.damaged:
                    return

    def _header(self, block: bytes) -> None:
        if block == bytes(BLOCK):
            self._zeros += 1
            self.complete = self._zeros >= 2
            return
        if self._zeros:
            self.damaged = "a zero block in the middle of the archive"
            return
        try:
            info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.HeaderError as err:
            self.damaged = f"a damaged tar header ({err})"
            return
        size = info.size
        if info.type in (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE):
            self._pax_left, self._pax_data = size, bytearray()
        else:
            if self._pax_size is not None:
                size = self._pax_size
                self._pax_size = None
            if info.type not in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE, *tarfile.GNU_TYPES):
                size = 0 if info.type in tarfile.SUPPORTED_TYPES else size
        self._skip = -(-size // BLOCK) * BLOCK


def _pax_size(records: bytes) -> int | None:
    match = re.search(rb"(?:^|\n)\d+ size=(\d+)\n", records)
    return int(match.group(1)) if match else None


class Download:
    """An open download: the answer's headers are read, its body is not. Use it as a context manager
    and call :meth:`write_to`; ``filename`` is the name the API gives it (``<dir>.tar`` for a
    directory), ``expected`` its length (None for a directory's tar)."""

    def __init__(self, resp: Any, path: str) -> None:
        self._resp = resp
        self.path = path
        self.status = int(resp.status_code)
        self.content_type = str(resp.headers.get("Content-Type") or "").split(";")[0].strip()
        self.is_directory = self.content_type == "application/x-tar"
        last = path.rstrip("/").rsplit("/", 1)[-1]
        self.filename = filename_of(resp.headers.get("Content-Disposition"), last or "root")
        if "path_raw" in path_query(path) and last not in ("", ".", ".."):
            # the answer's name shows U+FFFD for each byte that is not UTF-8: keep the exact bytes
            self.filename = last + (".tar" if self.is_directory else "")
        length = resp.headers.get("Content-Length")
        self.expected: int | None = int(length) if length and length.isdigit() else None
        match = _RANGE.fullmatch(str(resp.headers.get("Content-Range") or ""))
        # the whole file's size: a range answer says it in Content-Range
        self.file_size: int | None = int(match.group(3)) if match else self.expected
        self.received = 0
        self.seconds = 0.0

    def __enter__(self) -> Download:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._resp.close()

    def write_to(self, out: IO[bytes], progress: Progress | None = None, chunk_size: int = CHUNK) -> int:
        """Writes the body to ``out`` as it arrives; returns the bytes written. Raises
        IncompleteDownload when the body stops early (the file object then holds a part)."""
        started = time.monotonic()
        tar = TarEnd() if self.is_directory else None
        try:
            for chunk in self._resp.iter_content(chunk_size=chunk_size):
                if not chunk:
                    continue
                out.write(chunk)
                self.received += len(chunk)
                if tar is not None:
                    tar.feed(chunk)
                if progress is not None:
                    progress(self.received, self.expected)
        except requests.RequestException as err:
            raise exc.IncompleteDownload(
                self._stopped(f"the connection broke ({type(err).__name__})"), self.received
            ) from err
        finally:
            self.seconds = time.monotonic() - started
        if self.expected is not None and self.received != self.expected:
            raise exc.IncompleteDownload(self._stopped("the answer ended early"), self.received)
        if tar is not None and not tar.complete:
            why = tar.damaged or "the tar stream has no end-of-archive marker (the server stopped sending)"
            raise exc.IncompleteDownload(self._stopped(why), self.received)
        return self.received

    def _stopped(self, why: str) -> str:
        of = f" of {self.expected}" if self.expected is not None else ""
        return f"The download of {shown(self.path)} stopped after {self.received}{of} bytes: {why}."
