"""Disk images with files the tests know, built with real tools and no root: ``mke2fs -d`` (ext4),
``mkfs.xfs -p protofile`` (xfs), ``sfdisk`` on a file for MBR and GPT tables; and ``qemu-nbd`` in
userspace serving an image over a unix socket (no kernel nbd module) for the NBD path."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

MiB = 1 << 20
MTIME = 1_600_000_000  # set on every file of the ext4 tree (mkfs.xfs' protofile sets none)
PART_START = MiB  # the first partition starts at 1 MiB (sector 2048)


def need(tool: str) -> str:
    path = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")
    if path is None:
        pytest.fail(f"{tool} is not installed: run scripts/bootstrap")
    return path


@dataclass(frozen=True)
class Tree:
    """What the test wrote: files (path -> bytes), symlinks (path -> target), directories."""

    root: Path
    files: dict[str, bytes]
    links: dict[str, str]
    dirs: list[str]
    spaces: bool  # names with spaces (xfs protofiles cannot hold them)


def write_tree(base: Path, spaces: bool) -> Tree:
    rnd = random.Random(14)
    files = {
        "/a.txt": b"hello\n",
        "/empty": b"",
        "/big.bin": rnd.randbytes(3 * MiB + 123),  # over 1 MiB, not a block multiple
        "/sparse.img": bytes(5 * MiB) + b"end",
        "/etc/hosts": b"127.0.0.1 localhost\n",
        "/etc/app.conf": b"key = value\n",
        "/etc/conf.d/net.conf": b"net = 1\n",
        "/nested/deep/deeper/leaf.txt": b"leaf\n" * 1000,
        "/unicode/r\u00e9sum\u00e9-\u00fc\u6587.txt": "caf\u00e9\n".encode(),
        '/odd/quo"te': b"quote\n",
        "/odd/back\\slash": b"backslash\n",
    }
    if spaces:
        files["/odd/with space.txt"] = b"space\n"
    links = {
        "/link-to-a": "a.txt",
        "/etc/abs-link": "/etc/hosts",
        "/long-link": "t" * 300,
        "/remote-link": "r/" * 500,  # beyond an xfs inode: in a data block
        "/dirlink": "nested",
    }
    dirs = ["/etc", "/etc/conf.d", "/nested", "/nested/deep", "/nested/deep/deeper", "/unicode", "/odd"]
    root = base / "tree"
    for d in dirs:
        (root / d[1:]).mkdir(parents=True, exist_ok=True)
    for path, data in files.items():
        target = root / path[1:]
        if path == "/sparse.img":
            with open(target, "wb") as f:
                f.seek(5 * MiB)
                f.write(b"end")
        else:
            target.write_bytes(data)
    for path, link_target in links.items():
        os.symlink(link_target, root / path[1:])
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames + dirnames:
            os.utime(os.path.join(dirpath, name), (MTIME, MTIME), follow_symlinks=False)
    return Tree(root, files, links, dirs, spaces)


def write_byte_tree(base: Path, line_breaks: bool) -> Tree:
    """Names that are not UTF-8 (Latin-1, stray bytes), given as bytes and held as ``os.fsdecode``
    gives them; with ``line_breaks``, names with a newline or a carriage return and a space (an xfs
    protofile cannot hold them)."""
    files = {
        b"/caf\xe9.txt": b"Latin-1 name\n",
        b"/\xff\xfe-odd": bytes(range(256)),
        b"/d\xe9r/in\xe9ner": b"inner\n" * 300,
        b"/d\xe9r/utf8-r\xc3\xa9sum\xc3\xa9": b"utf-8 in a Latin-1 directory\n",
        b'/d\xe9r/q"uote\\\xe9': b"quote\n",
        b"/plain.txt": b"plain\n",
    }
    links = {b"/lnk\xe9": b"caf\xe9.txt", b"/esc-link": b"a\\351b\\\\c", b"/to-dir\xe9": b"d\xe9r"}
    dirs = [b"/d\xe9r"]
    if line_breaks:
        files[b"/new\nline \xe9"] = b"newline\n"
        files[b"/cr\rname"] = b"carriage return\n"
        files[b"/nl\ndir/f\xe9 x"] = b"in a newline directory\n"
        dirs.append(b"/nl\ndir")
    root = base / "tree"
    for d in dirs:
        (root / os.fsdecode(d[1:])).mkdir(parents=True, exist_ok=True)
    for path, data in files.items():
        (root / os.fsdecode(path[1:])).write_bytes(data)
    for path, target in links.items():
        os.symlink(target, os.fsencode(root) + path)
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root), topdown=False):
        for name in filenames + dirnames:
            os.utime(os.path.join(dirpath, name), (MTIME, MTIME), follow_symlinks=False)
    return Tree(
        root,
        {os.fsdecode(p): d for p, d in files.items()},
        {os.fsdecode(p): os.fsdecode(t) for p, t in links.items()},
        [os.fsdecode(d) for d in dirs],
        line_breaks,
    )


def make_ext4(tree: Tree, image: Path, mib: int = 64, fstype: str = "ext4", *options: str) -> Path:
    mke2fs = [
        need("mke2fs"),
        "-q",
        "-F",
        "-t",
        fstype,
        *options,
        "-d",
        str(tree.root),
        "-E",
        "root_owner=0:0",
    ]
    subprocess.run([*mke2fs, str(image), f"{mib}M"], check=True)
    return image


def make_xfs(tree: Tree, image: Path, mib: int = 300) -> Path:
    lines = ["t4o", "0 0", "d--755 0 0"]

    def walk(directory: Path, depth: int) -> None:
        for child in sorted(directory.iterdir()):
            pad = " " * depth
            if child.is_symlink():
                lines.append(f"{pad}{child.name} l--777 0 0 {os.readlink(child)}")
            elif child.is_dir():
                lines.append(f"{pad}{child.name} d--755 0 0")
                walk(child, depth + 1)
                lines.append(f"{pad}$")
            else:
                lines.append(f"{pad}{child.name} ---644 0 0 {child}")

    walk(tree.root, 1)
    lines.append("$")
    proto = image.with_suffix(".proto")
    proto.write_bytes(os.fsencode("\n".join(lines) + "\n"))  # names as their bytes, UTF-8 or not
    image.unlink(missing_ok=True)
    subprocess.run(
        [need("mkfs.xfs"), "-q", "-p", str(proto), "-d", f"file,name={image},size={mib}m"], check=True
    )
    return image


def partitioned(fs_image: Path, disk: Path, label: str) -> Path:
    """A disk with a ``label`` ("gpt" or "dos") table: a small first partition without a
    filesystem, then one holding ``fs_image``. Returns the disk; the filesystem is partition 2."""
    fs_size = fs_image.stat().st_size
    first_sectors = 2048  # 1 MiB
    total = PART_START + first_sectors * 512 + fs_size + 2 * MiB
    with open(disk, "wb") as f:
        f.truncate(total)
    ptype = "L" if label == "gpt" else "83"
    table = (
        f"label: {label}\nstart=2048, size={first_sectors}, type={ptype}\n"
        f"start={2048 + first_sectors}, size={fs_size // 512}, type={ptype}\n"
    )
    subprocess.run([need("sfdisk"), "-q", str(disk)], input=table.encode(), check=True)
    copy_sparse(fs_image, disk, PART_START + first_sectors * 512)
    return disk


def copy_sparse(source: Path, dest: Path, offset: int) -> None:
    """``dd conv=notrunc,sparse``: the non-zero blocks of ``source`` into ``dest`` at ``offset``."""
    with open(source, "rb") as src, open(dest, "r+b") as dst:
        position = 0
        while block := src.read(MiB):
            if block.count(0) != len(block):
                dst.seek(offset + position)
                dst.write(block)
            position += len(block)


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Tree]]:
    """Every disk the tests read: {name: (disk image, tree)}; the filesystem is on partition 2 of
    the partitioned ones, the whole disk otherwise."""
    base = tmp_path_factory.mktemp("filerecovery")
    ext_tree = write_tree(base / "ext", spaces=True)
    xfs_tree = write_tree(base / "xfs", spaces=False)
    ext = make_ext4(ext_tree, base / "ext4.img")
    xfs = make_xfs(xfs_tree, base / "xfs.img")
    return {
        "ext4": (ext, ext_tree),
        "ext4-mbr": (partitioned(ext, base / "ext4-mbr.disk", "dos"), ext_tree),
        "ext4-gpt": (partitioned(ext, base / "ext4-gpt.disk", "gpt"), ext_tree),
        "ext2": (make_ext4(ext_tree, base / "ext2.img", 64, "ext2", "-I", "128"), ext_tree),  # block maps
        "ext3": (make_ext4(ext_tree, base / "ext3.img", 64, "ext3"), ext_tree),
        "ext4-inline": (
            make_ext4(ext_tree, base / "ext4-inline.img", 64, "ext4", "-O", "inline_data"),
            ext_tree,
        ),
        "xfs": (xfs, xfs_tree),
        "xfs-gpt": (partitioned(xfs, base / "xfs-gpt.disk", "gpt"), xfs_tree),
        "xfs-mbr": (partitioned(xfs, base / "xfs-mbr.disk", "dos"), xfs_tree),
    }


@pytest.fixture(scope="session")
def byte_images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Tree]]:
    """Filesystems whose names are not all UTF-8: {name: (image, tree)}, the filesystem on the whole
    image; ext2 reads files through ``debugfs cat`` (block maps), ext4 and xfs from their extents."""
    base = tmp_path_factory.mktemp("byte-names")
    ext_tree = write_byte_tree(base / "ext", line_breaks=True)
    xfs_tree = write_byte_tree(base / "xfs", line_breaks=False)
    return {
        "ext4": (make_ext4(ext_tree, base / "ext4.img", 16), ext_tree),
        "ext2": (make_ext4(ext_tree, base / "ext2.img", 16, "ext2", "-I", "128"), ext_tree),
        "xfs": (make_xfs(xfs_tree, base / "xfs.img"), xfs_tree),
    }


@pytest.fixture
def nbd_export(tmp_path: Path) -> Iterator[Callable[[Path], str]]:
    """Serves an image read-only over a unix socket with userspace qemu-nbd; yields the URI maker."""
    procs: list[subprocess.Popen[bytes]] = []

    def serve(image: Path) -> str:
        sock = tmp_path / f"nbd{len(procs)}.sock"
        proc = subprocess.Popen(
            [need("qemu-nbd"), "-k", str(sock), "-r", "-f", "raw", "-t", "--shared=0", str(image)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(proc)
        deadline = time.monotonic() + 10
        while not sock.exists():
            assert proc.poll() is None, "qemu-nbd exited"
            assert time.monotonic() < deadline, "qemu-nbd did not listen"
            time.sleep(0.02)
        return f"nbd+unix:///?socket={sock}"

    yield serve
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)
