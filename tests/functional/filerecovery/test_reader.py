"""The file recovery reader on real images (ext4 and xfs; bare, MBR and GPT; raw file and NBD):
every byte, name, type, mode, link and mtime read back is the one the test wrote."""

from __future__ import annotations

import io
import stat
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from t4o.filerecovery import (
    Disk,
    InvalidPath,
    IsADirectory,
    NotADirectory,
    NotFound,
    UnsupportedFilesystem,
    open_disk,
    search,
    tar_directory,
)
from tests.functional.filerecovery.conftest import MTIME, PART_START, Tree

LAYOUTS = ["ext4", "ext4-mbr", "ext4-gpt", "xfs", "xfs-mbr", "xfs-gpt"]


def _open(images: dict[str, tuple[Path, Tree]], name: str) -> tuple[Disk, Tree]:
    image, tree = images[name]
    return open_disk(str(image)), tree


def _partition(name: str) -> int:
    return 2 if name.endswith(("-mbr", "-gpt")) else 0


@pytest.mark.parametrize("name", [*LAYOUTS, "ext2", "ext3"])
def test_volumes(images: dict[str, tuple[Path, Tree]], name: str) -> None:
    with _open(images, name)[0] as disk:
        fstype = name.split("-")[0]
        if _partition(name) == 0:
            assert [(v.index, v.offset, v.filesystem, v.table) for v in disk.volumes] == [
                (0, 0, fstype, "none")
            ]
        else:
            table = "gpt" if name.endswith("gpt") else "mbr"
            assert [(v.index, v.filesystem, v.table) for v in disk.volumes] == [
                (1, None, table),
                (2, fstype, table),
            ]
            assert disk.volumes[1].offset == PART_START + MiB
            assert disk.volume().index == 2  # the first readable one
        with pytest.raises(NotFound):
            disk.volume(7)


MiB = 1 << 20


@pytest.mark.parametrize("name", [*LAYOUTS, "ext2", "ext3", "ext4-inline"])
def test_every_file_reads_back_byte_for_byte(images: dict[str, tuple[Path, Tree]], name: str) -> None:
    disk, tree = _open(images, name)
    with disk:
        fs = disk.filesystem(_partition(name))
        for path, data in tree.files.items():
            entry = fs.stat(path)
            assert (entry.type, entry.size, entry.path) == ("file", len(data), path), path
            assert b"".join(fs.read(path)) == data, path
        for path, target in tree.links.items():
            entry = fs.stat(path)
            assert (entry.type, entry.link_target, entry.size) == ("symlink", target, len(target.encode()))
        assert b"".join(fs.read("/link-to-a")) == tree.files["/a.txt"]  # followed inside the filesystem
        assert b"".join(fs.read("/etc/abs-link")) == tree.files["/etc/hosts"]
        assert (
            b"".join(fs.read("/dirlink/deep/deeper/leaf.txt")) == tree.files["/nested/deep/deeper/leaf.txt"]
        )


@pytest.mark.parametrize("name", ["ext4-gpt", "xfs-mbr"])
def test_ranges(images: dict[str, tuple[Path, Tree]], name: str) -> None:
    disk, tree = _open(images, name)
    with disk:
        fs = disk.filesystem(_partition(name))
        big = tree.files["/big.bin"]
        for offset, length in [(0, 10), (MiB - 5, 10), (3 * MiB, None), (len(big) - 1, 100), (len(big), 5)]:
            want = big[offset : None if length is None else offset + length]
            assert b"".join(fs.read("/big.bin", offset, length)) == want, (offset, length)
        assert b"".join(fs.read("/sparse.img", 5 * MiB - 2, 10)) == b"\0\0end"


@pytest.mark.parametrize("name", ["ext4", "ext2", "xfs-gpt"])
def test_listing(images: dict[str, tuple[Path, Tree]], name: str) -> None:
    disk, tree = _open(images, name)
    with disk:
        fs = disk.filesystem(_partition(name))
        root = {e.name: e for e in fs.list("/")}
        expected = {"a.txt", "empty", "big.bin", "sparse.img", "etc", "nested", "unicode", "odd"}
        expected |= {"link-to-a", "long-link", "dirlink", "remote-link"}
        assert expected <= set(root)
        assert set(root) - expected <= {"lost+found"}
        assert root["etc"].type == "directory" and stat.S_ISDIR(root["etc"].mode)
        assert root["a.txt"].as_dict()["mode"] == "0644" and root["a.txt"].size == 6
        assert root["dirlink"].type == "symlink" and root["dirlink"].link_target == "nested"
        if name.startswith("ext"):  # mke2fs -d keeps mtimes; a protofile does not
            assert all(e.mtime == MTIME for n, e in root.items() if n != "lost+found")
        else:
            assert abs(root["a.txt"].mtime - time.time()) < 3600
        odd = sorted(e.name for e in fs.list("/odd"))
        assert odd == sorted(p.rsplit("/", 1)[1] for p in tree.files if p.startswith("/odd/"))
        assert [e.name for e in fs.list("/unicode")] == ["r\u00e9sum\u00e9-\u00fc\u6587.txt"]
        assert [e.path for e in fs.list("/dirlink")] == ["/nested/deep"]  # a symlink to a directory lists it


@pytest.mark.parametrize("name", ["ext4-mbr", "xfs"])
def test_errors(images: dict[str, tuple[Path, Tree]], name: str) -> None:
    disk, _ = _open(images, name)
    with disk:
        fs = disk.filesystem(_partition(name))
        with pytest.raises(NotFound, match="/nope"):
            fs.stat("/nope")
        with pytest.raises(NotFound):
            fs.list("/etc/nope")
        with pytest.raises(NotFound):
            b"".join(fs.read("/nested/nope/x"))
        with pytest.raises(NotADirectory):
            fs.list("/a.txt")
        with pytest.raises(IsADirectory):
            fs.read("/etc")
        with pytest.raises(NotFound):  # a newline is a valid byte of a name; there is none here
            fs.stat("/etc/ho\nsts")
        with pytest.raises(InvalidPath):
            fs.stat("/etc/ho\0sts")
        assert fs.stat("/../etc/./hosts").path == "/etc/hosts"  # never above the root


def test_unsupported_partition(images: dict[str, tuple[Path, Tree]]) -> None:
    with _open(images, "ext4-gpt")[0] as disk, pytest.raises(UnsupportedFilesystem, match="partition 1"):
        disk.filesystem(1)


@pytest.mark.parametrize("name", ["ext4-gpt", "xfs-gpt"])
def test_tar_of_a_directory_extracts_to_the_same_tree(
    images: dict[str, tuple[Path, Tree]], name: str, tmp_path: Path
) -> None:
    disk, tree = _open(images, name)
    with disk:
        fs = disk.filesystem(_partition(name))
        stream = b"".join(tar_directory(fs, "/"))
        with tarfile.open(fileobj=io.BytesIO(stream)) as tar:
            tar.extractall(tmp_path / "out", filter="tar")
        out = tmp_path / "out"
        for path, data in tree.files.items():
            assert (out / path[1:]).read_bytes() == data, path
        for path, target in tree.links.items():
            assert (out / path[1:]).readlink() == Path(target), path
        for directory in tree.dirs:
            assert (out / directory[1:]).is_dir()
        if name.startswith("ext4"):
            assert (out / "a.txt").stat().st_mtime == MTIME

        sub = b"".join(tar_directory(fs, "/etc"))
        with tarfile.open(fileobj=io.BytesIO(sub)) as tar:
            names = sorted(tar.getnames())
        assert names == sorted(
            ["etc", "etc/hosts", "etc/app.conf", "etc/abs-link", "etc/conf.d", "etc/conf.d/net.conf"]
        )
        with pytest.raises(NotADirectory):
            b"".join(tar_directory(fs, "/a.txt"))


@pytest.mark.parametrize("name", ["ext4-mbr", "xfs-gpt"])
def test_search(images: dict[str, tuple[Path, Tree]], name: str) -> None:
    disk, _ = _open(images, name)
    with disk:
        fs = disk.filesystem(_partition(name))

        def paths(pattern: str, root: str = "/", kind: str = "auto") -> list[str]:
            return [e.path for e in search(fs, pattern, root, kind).entries]

        assert paths("/etc/hosts") == ["/etc/hosts"]
        assert paths("/etc/nope") == []
        assert paths("hosts") == ["/etc/hosts"]  # a bare name at any depth
        assert paths("/etc/*.conf") == ["/etc/app.conf"]  # * stays in one directory
        assert paths("/etc/**/*.conf") == ["/etc/app.conf", "/etc/conf.d/net.conf"]
        assert paths("*.conf") == ["/etc/app.conf", "/etc/conf.d/net.conf"]
        assert paths("leaf.tx?") == ["/nested/deep/deeper/leaf.txt"]
        assert paths(r"^/etc/.*\.conf$") == ["/etc/app.conf", "/etc/conf.d/net.conf"]
        assert paths("r\u00e9sum") == []  # a path, not a substring
        assert paths("r\u00e9sum", kind="regex") == ["/unicode/r\u00e9sum\u00e9-\u00fc\u6587.txt"]
        assert paths("*.conf", root="/etc/conf.d") == ["/etc/conf.d/net.conf"]
        found = search(fs, "/etc/hosts").entries[0]
        assert (found.size, found.type) == (20, "file")
        limited = search(fs, "*", limit=3)
        assert len(limited.entries) == 3 and limited.truncated


@pytest.mark.parametrize("name", ["ext4-gpt", "xfs-gpt", "ext4"])
def test_through_an_nbd_export(
    images: dict[str, tuple[Path, Tree]], name: str, nbd_export: Callable[[Path], str]
) -> None:
    image, tree = images[name]
    uri = nbd_export(image)
    with open_disk(uri) as disk:
        assert disk.image.size == image.stat().st_size
        fs = disk.filesystem(_partition(name))
        assert b"".join(fs.read("/big.bin")) == tree.files["/big.bin"]
        assert b"".join(fs.read("/sparse.img")) == tree.files["/sparse.img"]
        assert {e.name for e in fs.list("/etc")} == {"hosts", "app.conf", "abs-link", "conf.d"}
        assert [e.path for e in search(fs, "*.conf").entries] == ["/etc/app.conf", "/etc/conf.d/net.conf"]
        mounts = [m.dir for m in disk.image._mounts]
        assert all(Path(m).exists() for m in mounts)
    assert mounts and not any(Path(m).exists() for m in mounts)  # unmounted on close


def test_missing_image_and_dead_export(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        open_disk(str(tmp_path / "nope.img"))
    from t4o.filerecovery import ToolError

    with pytest.raises(ToolError, match="nbdfuse"):
        open_disk(f"nbd+unix:///?socket={tmp_path / 'none.sock'}")
