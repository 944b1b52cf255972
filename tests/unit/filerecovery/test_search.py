"""Paths, globs, regexes, walks, ranges and tar streams over an in-memory filesystem (a stand-in
reader: the module under test is the search and tar code, not a filesystem)."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from t4o.filerecovery.entries import DIRECTORY, FILE, SYMLINK, Entry, basename, normalize
from t4o.filerecovery.errors import FileRecoveryError, InvalidPath, NotADirectory, NotFound
from t4o.filerecovery.reader import FilesystemReader, slice_chunks, stream_extents
from t4o.filerecovery.search import glob_to_regex, kind_of, search, walk
from t4o.filerecovery.tarstream import tar_directory


class MemoryFs(FilesystemReader):
    """Files {path: bytes}, symlinks {path: target}; directories implied by the paths."""

    fstype = "memory"

    def __init__(self, files: dict[str, bytes], links: dict[str, str]) -> None:
        self.files, self.links = files, links
        self.dirs = {"/"}
        for path in [*files, *links]:
            parts = path.split("/")[1:-1]
            for i in range(1, len(parts) + 1):
                self.dirs.add("/" + "/".join(parts[:i]))
        self.children_calls = 0

    def close(self) -> None:
        pass

    def stat_many(self, paths: Sequence[str]) -> list[Entry | None]:
        out: list[Entry | None] = []
        for p in paths:
            p = normalize(p)
            if p in self.files:
                out.append(Entry(p, basename(p), FILE, len(self.files[p]), 0o100644, 7, 1))
            elif p in self.links:
                t = self.links[p]
                out.append(Entry(p, basename(p), SYMLINK, len(t), 0o120777, 7, 2, link_target=t))
            elif p in self.dirs:
                out.append(Entry(p, basename(p), DIRECTORY, 0, 0o040755, 7, 3))
            else:
                out.append(None)
        return out

    def children(self, directories: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
        self.children_calls += 1
        result = {}
        for d in directories:
            prefix = d.rstrip("/") + "/"
            names = {}
            for p in [*self.files, *self.links, *self.dirs]:
                if p.startswith(prefix) and p != d and "/" not in p[len(prefix) :]:
                    entry = self.stat_many([p])[0]
                    assert entry is not None
                    names[p[len(prefix) :]] = entry.type
            result[d] = sorted(names.items())
        return result

    def read_entry(self, entry: Entry) -> Iterator[bytes]:
        data = self.files[entry.path]
        for i in range(0, len(data), 3):
            yield data[i : i + 3]


@pytest.fixture
def fs() -> MemoryFs:
    return MemoryFs(
        {
            "/etc/hosts": b"127.0.0.1 localhost\n",
            "/etc/app.conf": b"a",
            "/etc/conf.d/net.conf": b"n",
            "/home/u/notes.txt": b"0123456789",
            "/home/u/.hidden": b"h",
            "/lost+found/x": b"x",
        },
        {"/etc/link": "hosts", "/home/loop": "/home/loop", "/home/up": "../etc"},
    )


def paths(fs: MemoryFs, pattern: str, root: str = "/", kind: str = "auto") -> list[str]:
    return [e.path for e in search(fs, pattern, root, kind).entries]


@pytest.mark.parametrize(
    ("pattern", "kind"),
    [
        ("/etc/hosts", "path"),
        ("hosts", "path"),
        ("/lost+found/x", "path"),
        ("/etc/*.conf", "glob"),
        ("**/x", "glob"),
        ("file?.txt", "glob"),
        ("/etc/[ab]*", "glob"),
        ("^/etc/.*", "regex"),
        (r"\.conf$", "regex"),
        ("(a|b)", "regex"),
        ("/home/.*", "regex"),
    ],
)
def test_kind_of(pattern: str, kind: str) -> None:
    assert kind_of(pattern) == kind


@pytest.mark.parametrize(
    ("glob", "matches", "misses"),
    [
        ("/etc/*.conf", ["/etc/a.conf", "/etc/.conf"], ["/etc/x/a.conf", "/etc/a.confx"]),
        ("/etc/**/*.conf", ["/etc/a.conf", "/etc/x/y/a.conf"], ["/a.conf"]),
        ("/e?c/[!x]*", ["/etc/a"], ["/etc/x", "/e/c/a"]),
        ("/a+b(c)", ["/a+b(c)"], ["/aab(c)"]),
        ("/[]]x", ["/]x"], ["/x"]),
    ],
)
def test_glob_to_regex(glob: str, matches: list[str], misses: list[str]) -> None:
    import re

    rx = re.compile(glob_to_regex(glob))
    assert all(rx.fullmatch(m) for m in matches), matches
    assert not any(rx.fullmatch(m) for m in misses), misses


def test_normalize() -> None:
    assert normalize("") == "/"
    assert normalize("etc//./hosts/") == "/etc/hosts"
    assert normalize("/../../etc/../etc/hosts") == "/etc/hosts"
    assert normalize("/a\nb/\rc") == "/a\nb/\rc"  # a line break is a valid byte of a name
    with pytest.raises(InvalidPath):
        normalize("/a\0b")


@pytest.mark.parametrize(
    ("offset", "length"), [(0, None), (0, 0), (2, 5), (3, 3), (9, None), (10, 4), (50, 1), (4, None)]
)
def test_slice(offset: int, length: int | None) -> None:
    data = b"0123456789"
    chunks = [data[i : i + 3] for i in range(0, 10, 3)]
    assert (
        b"".join(slice_chunks(iter(chunks), offset, length))
        == data[offset : None if length is None else offset + length]
    )


def test_search(fs: MemoryFs) -> None:
    assert paths(fs, "/etc/hosts") == ["/etc/hosts"]
    assert paths(fs, "hosts") == ["/etc/hosts"]
    assert paths(fs, "/etc/*.conf") == ["/etc/app.conf"]
    assert paths(fs, "/etc/**/*.conf") == ["/etc/app.conf", "/etc/conf.d/net.conf"]
    assert paths(fs, "*.conf", root="/home") == []
    assert paths(fs, r"^/home/.*\.txt$") == ["/home/u/notes.txt"]
    assert paths(fs, "/lost+found/x") == ["/lost+found/x"]  # '+' in a path is not a regex
    assert paths(fs, "/etc/hosts", root="/home") == []  # outside the root
    assert paths(fs, "up", root="/home") == ["/home/up"]  # symlinks are matched, not followed
    # a root that is a symlink is followed; a relative glob matches names at any depth
    assert paths(fs, "*", root="/home/up") == [
        "/etc/app.conf",
        "/etc/conf.d",
        "/etc/conf.d/net.conf",
        "/etc/hosts",
        "/etc/link",
    ]
    result = search(fs, "*", limit=2)
    assert len(result.entries) == 2 and result.truncated
    with pytest.raises(FileRecoveryError, match="invalid regular expression"):
        search(fs, "^(", kind="regex")
    with pytest.raises(NotADirectory):
        search(fs, "*", root="/etc/hosts")
    with pytest.raises(NotFound):
        search(fs, "*", root="/nope")


def test_an_absolute_glob_reads_only_its_directory(fs: MemoryFs) -> None:
    fs.children_calls = 0
    assert paths(fs, "/etc/*.conf") == ["/etc/app.conf"]
    assert fs.children_calls == 1


def test_walk_is_breadth_first_and_does_not_follow_links(fs: MemoryFs) -> None:
    walked = list(walk(fs, "/home"))
    assert [p for p, _ in walked] == [
        "/home/loop",
        "/home/u",
        "/home/up",
        "/home/u/.hidden",
        "/home/u/notes.txt",
    ]
    assert list(walk(fs, "/", max_depth=1)) == [
        ("/etc", "directory"),
        ("/home", "directory"),
        ("/lost+found", "directory"),
    ]


def test_read_and_resolve(fs: MemoryFs) -> None:
    assert b"".join(fs.read("/etc/link")) == b"127.0.0.1 localhost\n"
    assert b"".join(fs.read("/home/u/notes.txt", 4, 3)) == b"456"
    assert [e.name for e in fs.list("/home/up")] == ["app.conf", "conf.d", "hosts", "link"]
    with pytest.raises(FileRecoveryError, match="too many levels"):
        fs.resolve("/home/loop")


def test_tar_stream(fs: MemoryFs) -> None:
    stream = b"".join(tar_directory(fs, "/home"))
    assert len(stream) % 512 == 0
    with tarfile.open(fileobj=io.BytesIO(stream)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert sorted(members) == [
            "home",
            "home/loop",
            "home/u",
            "home/u/.hidden",
            "home/u/notes.txt",
            "home/up",
        ]
        assert members["home/up"].issym() and members["home/up"].linkname == "../etc"
        notes = tar.extractfile("home/u/notes.txt")
        assert notes is not None and notes.read() == b"0123456789"
        assert members["home/u/notes.txt"].mode == 0o644 and members["home/u/notes.txt"].mtime == 7
    root = b"".join(tar_directory(fs, "/"))
    with tarfile.open(fileobj=io.BytesIO(root)) as tar:
        assert "./etc/conf.d/net.conf" in tar.getnames()


@pytest.mark.parametrize(
    ("offset", "length"), [(0, None), (0, 1), (3, 10), (9, 3), (15, None), (29, 5), (30, 1), (2, 0)]
)
def test_stream_extents(tmp_path: Path, offset: int, length: int | None) -> None:
    image = tmp_path / "img"
    image.write_bytes(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    # file: 0-3 "ABCD", 4-7 hole, 8-11 unwritten, 12-17 "KLMNOP", 18-29 hole (size 30)
    extents = [(0, 0, 4), (8, -1, 4), (12, 10, 6)]
    model = b"ABCD" + bytes(8) + b"KLMNOP" + bytes(12)
    fd = os.open(image, os.O_RDONLY)
    try:
        got = b"".join(stream_extents(fd, extents, 30, offset, length))
    finally:
        os.close(fd)
    assert got == model[offset : None if length is None else offset + length]
