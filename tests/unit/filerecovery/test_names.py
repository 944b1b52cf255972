"""File names as bytes and text: the round trip, the readable form, base64 in and out; what an entry
shows of a name that is not UTF-8; xfs_db's listing and escapes."""

from __future__ import annotations

import base64

import pytest

from t4o.client.files import path_from_raw, path_query
from t4o.client.files import shown as client_shown
from t4o.filerecovery.entries import Entry, normalize
from t4o.filerecovery.errors import InvalidPath
from t4o.filerecovery.names import decode, encode, from_base64, is_text, raw_base64, readable
from t4o.filerecovery.xfs import parse_ls, unescape

NAMES = [b"caf\xe9.txt", b"\xff\xfe-odd", b"r\xc3\xa9sum\xc3\xa9", b"\xed\xb2\x80", b"a\nb", b"", b"\x80"]


@pytest.mark.parametrize("raw", NAMES)
def test_every_name_round_trips(raw: bytes) -> None:
    assert encode(decode(raw)) == raw


def test_text_and_readable() -> None:
    assert is_text("r\u00e9sum\u00e9") and readable("r\u00e9sum\u00e9") == "r\u00e9sum\u00e9"
    assert not is_text(decode(b"caf\xe9.txt"))
    assert readable(decode(b"caf\xe9.txt")) == "caf\ufffd.txt"
    assert readable(decode(b"\xff\xfe-odd")) == "\ufffd\ufffd-odd"
    # an encoded surrogate is not UTF-8 either: three bytes, shown as replacement characters
    assert readable(decode(b"x\xed\xb2\x80")).startswith("x\ufffd")
    assert readable(decode(b"x\xed\xb2\x80")).encode("utf-8")


def test_base64_out_and_in() -> None:
    assert raw_base64("plain") is None and raw_base64("r\u00e9sum\u00e9") is None
    assert raw_base64(decode(b"/caf\xe9.txt")) == base64.b64encode(b"/caf\xe9.txt").decode()
    wanted = b"/\xff\xfe-odd"
    standard = base64.b64encode(wanted).decode()
    assert "/" in standard or "+" in standard  # the URL-safe form differs
    for given in (standard, base64.urlsafe_b64encode(wanted).decode(), standard.rstrip("=")):
        assert encode(from_base64(given)) == wanted, given


@pytest.mark.parametrize("bad", ["%%%", "a", "L2Fi*", "", base64.b64encode(b"/a\0b").decode(), "\udce9"])
def test_bad_base64(bad: str) -> None:
    with pytest.raises(InvalidPath, match="path_raw"):
        from_base64(bad)


def test_normalize_keeps_every_byte_but_nul() -> None:
    assert normalize(decode(b"/d\xe9r/../a\nb/./c\rd")) == decode(b"/a\nb/c\rd")
    with pytest.raises(InvalidPath):
        normalize("/a\0b")


def test_entry_shows_text_and_raw_bytes() -> None:
    entry = Entry(
        path=decode(b"/d\xe9r/caf\xe9"),
        name=decode(b"caf\xe9"),
        type="symlink",
        size=4,
        mode=0o120777,
        mtime=0,
        inode=12,
        link_target=decode(b"\xff.txt"),
    )
    view = entry.as_dict()
    shown = (view["name"], view["path"], view["link_target"])
    assert shown == ("caf\ufffd", "/d\ufffdr/caf\ufffd", "\ufffd.txt")
    assert base64.b64decode(str(view["name_raw"])) == b"caf\xe9"
    assert base64.b64decode(str(view["path_raw"])) == b"/d\xe9r/caf\xe9"
    assert base64.b64decode(str(view["link_target_raw"])) == b"\xff.txt"
    plain = Entry(path="/r\u00e9", name="r\u00e9", type="file", size=1, mode=0o100644, mtime=0, inode=13)
    assert not {"name_raw", "path_raw", "link_target_raw"} & set(plain.as_dict())


XFS_LS = (
    b"8          128                directory      0x0000002e   1 . (good)\n"
    b"10         128                directory      0x0000172e   2 .. (good)\n"
    b"12         131                regular        0x951abb4a   8 caf\xe9.txt (good)\n"
    b"15         132                regular        0xe5bbf593  10 two\n lines (good)\n"
    b"18         133                regular        0x2ebbf9ef   5 a (b) (good)\n"
)


def test_xfs_listing_takes_names_by_length() -> None:
    assert parse_ls(XFS_LS) == [
        (128, b"directory", b"."),
        (128, b"directory", b".."),
        (131, b"regular", b"caf\xe9.txt"),
        (132, b"regular", b"two\n lines"),
        (133, b"regular", b"a (b)"),
    ]


def test_xfs_db_escapes() -> None:
    # as xfs_db prints u3.symlink: a\351b is the byte 0xE9, a\\351b a backslash then 351
    assert unescape(rb"a\351b") == b"a\xe9b"
    assert unescape(rb"a\\351b") == b"a\\351b"
    assert unescape(rb"a\"b\\\\c") == b'a"b\\\\c'
    assert unescape(rb"a\001b\n") == b"a\x01b\n"


@pytest.mark.parametrize("raw", [b"/caf\xe9.txt", b"/\xff\xfe-odd", b"/r\xc3\xa9sum\xc3\xa9", b"/a\nb"])
def test_the_client_names_a_path_as_the_server_reads_it(raw: bytes) -> None:
    query = path_query(decode(raw))
    if "path_raw" in query:
        assert not is_text(decode(raw))
        assert encode(from_base64(query["path_raw"])) == raw
        assert path_from_raw(query["path_raw"]) == decode(raw)
    else:
        assert query == {"path": raw.decode("utf-8")}
    assert client_shown(decode(raw)) == readable(decode(raw))
    with pytest.raises(ValueError):
        path_from_raw("%%%")
