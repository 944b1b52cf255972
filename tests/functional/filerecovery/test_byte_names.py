"""Names that are not UTF-8 (and, on ext*, names with line breaks) on real ext4, ext2 and xfs images:
listed, stat'ed, read, searched and archived with the exact bytes the test gave them."""

from __future__ import annotations

import base64
import io
import os
import tarfile
from pathlib import Path

import pytest

from t4o.filerecovery import FilesystemReader, InvalidPath, NotFound, open_disk, search, tar_directory
from tests.functional.filerecovery.conftest import MTIME, Tree

NAMES = ["ext4", "ext2", "xfs"]


def _b(text: str) -> bytes:
    return os.fsencode(text)


def _children(tree: Tree, directory: bytes) -> set[bytes]:
    """The names the test put directly in ``directory``."""
    prefix = directory.rstrip(b"/") + b"/"
    paths = [_b(p) for p in [*tree.files, *tree.links, *tree.dirs]]
    return {p[len(prefix) :].split(b"/")[0] for p in paths if p.startswith(prefix)}


@pytest.mark.parametrize("name", NAMES)
def test_stat_read_and_list(byte_images: dict[str, tuple[Path, Tree]], name: str) -> None:
    image, tree = byte_images[name]
    with open_disk(str(image)) as disk:
        fs = disk.filesystem(None)
        for path, data in tree.files.items():
            entry = fs.stat(path)
            assert (_b(entry.path), _b(entry.name)) == (_b(path), _b(path).rsplit(b"/", 1)[1])
            assert (entry.type, entry.size) == ("file", len(data)), path
            assert b"".join(fs.read(path)) == data, path
            assert b"".join(fs.read(path, 3, 5)) == data[3:8], path
        for path, target in tree.links.items():
            entry = fs.stat(path)
            assert entry.type == "symlink" and entry.link_target is not None
            assert (_b(entry.link_target), entry.size) == (_b(target), len(_b(target))), path
        # symlinks named and pointing in bytes are followed
        assert b"".join(fs.read(os.fsdecode(b"/lnk\xe9"))) == tree.files[os.fsdecode(b"/caf\xe9.txt")]
        inner = os.fsdecode(b"/to-dir\xe9/in\xe9ner")
        assert b"".join(fs.read(inner)) == tree.files[os.fsdecode(b"/d\xe9r/in\xe9ner")]

        for directory in [b"/", *(_b(d) for d in tree.dirs)]:
            listed = fs.list(os.fsdecode(directory))
            assert {_b(e.name) for e in listed} - {b"lost+found"} == _children(tree, directory), directory
            assert all(_b(e.path) == directory.rstrip(b"/") + b"/" + _b(e.name) for e in listed)
        if name.startswith("ext"):
            assert fs.stat(os.fsdecode(b"/caf\xe9.txt")).mtime == MTIME


@pytest.mark.parametrize("name", NAMES)
def test_entries_as_json(byte_images: dict[str, tuple[Path, Tree]], name: str) -> None:
    image, _ = byte_images[name]
    with open_disk(str(image)) as disk:
        fs = disk.filesystem(None)
        views: dict[bytes, dict[str, object]] = {}
        for entry in fs.list("/"):
            view = entry.as_dict()
            raw = view.get("name_raw")
            views[base64.b64decode(str(raw)) if raw else str(view["name"]).encode()] = view
    cafe = views[b"caf\xe9.txt"]
    assert (cafe["name"], cafe["path"]) == ("caf\ufffd.txt", "/caf\ufffd.txt")
    assert base64.b64decode(str(cafe["path_raw"])) == b"/caf\xe9.txt"
    odd = views[b"\xff\xfe-odd"]
    assert odd["name"] == "\ufffd\ufffd-odd" and base64.b64decode(str(odd["path_raw"])) == b"/\xff\xfe-odd"
    link = views[b"lnk\xe9"]
    assert link["link_target"] == "caf\ufffd.txt"
    assert base64.b64decode(str(link["link_target_raw"])) == b"caf\xe9.txt"
    plain = views[b"plain.txt"]
    assert not {"name_raw", "path_raw", "link_target_raw"} & set(plain)


@pytest.mark.parametrize("name", NAMES)
def test_search(byte_images: dict[str, tuple[Path, Tree]], name: str) -> None:
    image, tree = byte_images[name]
    with open_disk(str(image)) as disk:
        fs = disk.filesystem(None)

        def paths(pattern: str, kind: str = "auto") -> list[bytes]:
            return [_b(e.path) for e in search(fs, pattern, kind=kind).entries]

        assert paths(os.fsdecode(b"caf\xe9.txt")) == [b"/caf\xe9.txt"]  # a bare name at any depth
        assert paths(os.fsdecode(b"in\xe9ner")) == [b"/d\xe9r/in\xe9ner"]
        in_dir = sorted(b"/d\xe9r/" + n for n in _children(tree, b"/d\xe9r"))
        assert paths(os.fsdecode(b"/d\xe9r/*")) == in_dir
        # a regex over the decoded path finds every name holding the byte 0xE9 (as U+DCE9)
        with_e9 = sorted(_b(p) for p in [*tree.files, *tree.links, *tree.dirs] if b"\xe9" in _b(p))
        assert paths("\udce9", kind="regex") == with_e9


@pytest.mark.parametrize("name", NAMES)
def test_tar_holds_the_exact_names(
    byte_images: dict[str, tuple[Path, Tree]], name: str, tmp_path: Path
) -> None:
    image, tree = byte_images[name]
    with open_disk(str(image)) as disk:
        fs: FilesystemReader = disk.filesystem(None)
        stream = b"".join(tar_directory(fs, "/"))
        sub = b"".join(tar_directory(fs, os.fsdecode(b"/d\xe9r")))
    with tarfile.open(fileobj=io.BytesIO(stream), encoding="utf-8", errors="surrogateescape") as tar:
        members = {_b(os.path.normpath(m.name)): m for m in tar.getmembers()}
        got = {b"/" + n: tar.extractfile(m).read() for n, m in members.items() if m.isfile()}  # type: ignore[union-attr]
        tar.extractall(tmp_path / "out", filter="tar")
    assert got == {_b(p): d for p, d in tree.files.items()}
    for path, target in tree.links.items():
        member = members[_b(path)[1:]]
        assert member.issym() and _b(member.linkname) == _b(target)
    out = os.fsencode(tmp_path / "out")
    for path, data in tree.files.items():  # extracted under the very same bytes
        with open(out + _b(path), "rb") as f:
            assert f.read() == data
    with tarfile.open(fileobj=io.BytesIO(sub), encoding="utf-8", errors="surrogateescape") as tar:
        names = sorted(_b(n) for n in tar.getnames())
    assert names == sorted([b"d\xe9r", *(b"d\xe9r/" + n for n in _children(tree, b"/d\xe9r"))])


def test_line_breaks_in_ext_names(byte_images: dict[str, tuple[Path, Tree]]) -> None:
    """debugfs reads commands line by line: these names are found by inode through their directory."""
    image, tree = byte_images["ext4"]
    with open_disk(str(image)) as disk:
        fs = disk.filesystem(None)
        for raw in (b"/new\nline \xe9", b"/cr\rname", b"/nl\ndir/f\xe9 x"):
            path = os.fsdecode(raw)
            assert _b(fs.stat(path).path) == raw
            assert b"".join(fs.read(path)) == tree.files[path]
        assert [_b(e.name) for e in fs.list(os.fsdecode(b"/nl\ndir"))] == [b"f\xe9 x"]
        assert [_b(e.path) for e in search(fs, "f\udce9 x").entries] == [b"/nl\ndir/f\xe9 x"]
        with pytest.raises(NotFound):
            fs.stat(os.fsdecode(b"/nl\ndir/missing"))
        with pytest.raises(NotFound):
            fs.stat("/no\nsuch/file")
        with pytest.raises(InvalidPath):
            fs.stat("/a\0b")
