"""What the ext reader makes of debugfs' output (captured from debugfs 1.47) and how it quotes paths."""

from __future__ import annotations

from t4o.filerecovery.ext import _EXTENT, _LS_LINE, _parse_stat, parse_ls, quote

STAT_FILE = b"""Inode: 12   Type: regular    Mode:  0644   Flags: 0x80000
Generation: 0    Version: 0x00000000:00000000
User:  1000   Group:    50   Project:     0   Size: 5242883
File ACL: 0
Links: 1   Blockcount: 2
Fragment:  Address: 0    Number: 0    Size: 0
 ctime: 0x6b16434f:00000000 -- Mon Dec  7 05:25:35 2026
 atime: 0x5f5e1000:00000000 -- Sun Sep 13 12:26:40 2020
 mtime: 0x5f5e1000:00000000 -- Sun Sep 13 12:26:40 2020
crtime: 0x6b16434f:00000000 -- Mon Dec  7 05:25:35 2026
Size of extra inode fields: 32
EXTENTS:
(0):4385
"""

STAT_LINK = b"""Inode: 14   Type: symlink    Mode:  0777   Flags: 0x0
Generation: 0    Version: 0x00000000
User:     0   Group:     0   Size: 9
File ACL: 0
Links: 1   Blockcount: 0
Fragment:  Address: 0    Number: 0    Size: 0
ctime: 0x7fffffff -- Tue Jan 19 03:14:07 2038
atime: 0x7fffffff -- Tue Jan 19 03:14:07 2038
mtime: 0x80000000 -- Fri Dec 13 20:45:52 1901
Fast link dest: "a b\"c.txt"
"""


def test_stat_of_a_file() -> None:
    entry = _parse_stat("/sparse", STAT_FILE)
    assert entry is not None
    assert (entry.inode, entry.type, entry.mode, entry.size) == (12, "file", 0o100644, 5242883)
    assert (entry.uid, entry.gid, entry.mtime, entry.link_target) == (1000, 50, 1_600_000_000, None)


def test_stat_of_a_fast_symlink_on_a_small_inode() -> None:
    entry = _parse_stat("/l", STAT_LINK)
    assert entry is not None
    assert (entry.type, entry.link_target, entry.mtime) == ("symlink", 'a b"c.txt', -(1 << 31))


def test_a_fast_symlink_target_is_raw_bytes_cut_at_its_size() -> None:
    # debugfs prints the target's bytes as they are: a newline, a quote, a byte that is not UTF-8
    target = b'a\n"b\xe9'
    out = STAT_LINK.replace(b"Size: 9", b"Size: %d" % len(target)).replace(
        b'Fast link dest: "a b"c.txt"', b'Fast link dest: "' + target + b'"'
    )
    entry = _parse_stat("/l", out)
    assert entry is not None and entry.link_target is not None
    assert entry.link_target.encode("utf-8", "surrogateescape") == target


def test_extra_epoch_bits_move_past_2038() -> None:
    out = STAT_FILE.replace(b"mtime: 0x5f5e1000:00000000", b"mtime: 0x00000000:00000001")
    entry = _parse_stat("/f", out)
    assert entry is not None and entry.mtime == 1 << 32


def test_a_missing_path_has_no_entry() -> None:
    assert _parse_stat("/nope", b"") is None


def test_ls_lines() -> None:
    m = _LS_LINE.match('/19/100644/0/0/we"ird n\u00e4me/12/'.encode())
    assert m is not None and m.group(5).decode() == 'we"ird n\u00e4me' and m.group(6) == b"12"
    m = _LS_LINE.match(b"/17/040755/0/0/sub//")
    assert m is not None and m.group(2) == b"040755" and m.group(6) == b""


def test_ls_records_with_any_byte_in_a_name() -> None:
    # ls -p prints raw names: a newline inside a name, a byte that is not UTF-8; empty directory
    # slots (inode 0, no name) are not entries
    out = (
        b"/2/040755/0/0/.//\n/2/040755/0/0/..//\n/13/100644/0/0/caf\xe9.txt/17/\n"
        b"/17/100644/0/0/new\nline/4/\n/18/040755/0/0/\n//\n/0/000000/0/0//0/\n/0/000000/0/0//0/\n\n"
    )
    assert parse_ls(out) == [
        (13, 0o100644, b"caf\xe9.txt"),
        (17, 0o100644, b"new\nline"),
        (18, 0o040755, b"\n"),
    ]


def test_quote() -> None:
    assert quote('etc/we"ird name') == b'"/etc/we""ird name"'
    assert quote("/r\u00e9") == '"/r\u00e9"'.encode()
    assert quote("/caf\udce9") == b'"/caf\xe9"'  # the exact bytes of a name that is not UTF-8


EX_DEPTH_1 = b"""Level Entries         Logical        Physical Length Flags
 0/ 1   1/  1     0 - 262143  4976            262144
 1/ 1   1/  3      0 -  27790   4977 -  32767  27791
 1/ 1   2/  3  27791 -  27800  32919 -  32928     10 Uninit
 1/ 1   3/  3  40000 -  40001 139264 - 139265      2
"""


def test_extent_leaves() -> None:
    found = [m.groups() for m in _EXTENT.finditer(EX_DEPTH_1)]
    leaves = [g for g in found if g[0] == g[1]]
    assert leaves == [
        (b"1", b"1", b"0", b"4977", b"27791", b""),
        (b"1", b"1", b"27791", b"32919", b"10", b"Uninit"),
        (b"1", b"1", b"40000", b"139264", b"2", b""),
    ]
