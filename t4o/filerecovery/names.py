"""File names as bytes and as text.

A Linux file name is bytes: a guest may hold names in Latin-1 or in no encoding at all. Inside this
package a name or path is a ``str`` decoded from UTF-8 with ``surrogateescape`` (what ``os.fsdecode``
does in a UTF-8 locale, here whatever the locale): every byte that is not part of valid UTF-8 becomes
one lone surrogate (0xE9 -> U+DCE9), so every name maps to a ``str`` and back to its exact bytes for
the tools' commands. Such a ``str`` cannot go into JSON or an HTTP header as it is: ``readable`` shows
it with U+FFFD for each undecodable byte, ``raw_base64`` carries the exact bytes.
"""

from __future__ import annotations

import base64
import binascii

from t4o.filerecovery.errors import InvalidPath

ENCODING = "utf-8"


def encode(text: str) -> bytes:
    """The exact bytes of a name or path."""
    return text.encode(ENCODING, "surrogateescape")


def decode(raw: bytes) -> str:
    """A name or path as this package holds it: its bytes round-trip through ``encode``."""
    return raw.decode(ENCODING, "surrogateescape")


def is_text(text: str) -> bool:
    """Whether the name is valid UTF-8 (no byte had to be escaped), so it can be shown as it is."""
    try:
        text.encode(ENCODING)
    except UnicodeEncodeError:
        return False
    return True


def readable(text: str) -> str:
    """The name as valid text: each byte that is not UTF-8 shown as U+FFFD."""
    return text if is_text(text) else encode(text).decode(ENCODING, "replace")


def raw_base64(text: str) -> str | None:
    """The exact bytes of a name in standard base64, or None when the name is valid UTF-8 (its text
    then says it exactly)."""
    return None if is_text(text) else base64.b64encode(encode(text)).decode("ascii")


def from_base64(value: str, what: str = "path_raw") -> str:
    """A name or path given as the base64 of its bytes (standard or URL-safe alphabet, padding
    optional). ``InvalidPath`` when it is not base64 or holds a NUL byte."""
    compact = value.strip().replace("-", "+").replace("_", "/")
    compact += "=" * (-len(compact) % 4)
    try:
        raw = base64.b64decode(compact.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise InvalidPath(f"{what} is not valid base64: {readable(value)[:80]!r}") from exc
    if not raw:
        raise InvalidPath(f"{what} is empty")
    if b"\0" in raw:
        raise InvalidPath(f"{what} holds a NUL byte: no file name can")
    return decode(raw)
