"""Disk images for the benchmark: an ext4 filesystem of real files, random data and zero regions.

Layout of an image of size S (a raw disk, sparse where it is zero):

    [0, 0.85 S)      ext4 (4 KiB blocks) filled to about half with files from a system directory
    [0.85 S, 0.9 S)  random bytes (incompressible, no duplicates)
    [0.9 S, S)       zeros (a hole)
"""

from __future__ import annotations

import errno
import os
import random
import shutil
import subprocess
from pathlib import Path

MiB = 1024 * 1024
BLOCK = MiB  # "a block" in the change models below
WRITE = 64 * 1024  # one guest write in the incremental model


def _stage_files(source: Path, staging: Path, budget: int) -> int:
    """Hard-link (or copy, across filesystems) regular files of ``source`` until ``budget`` bytes."""
    total = 0
    for root, dirs, files in os.walk(source):
        dirs.sort()
        for name in sorted(files):
            src = Path(root) / name
            try:
                st = src.lstat()
            except OSError:
                continue
            if not src.is_file() or src.is_symlink() or st.st_size == 0 or total + st.st_size > budget:
                continue
            dest = staging / src.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(src, dest)
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EPERM):
                    continue
                shutil.copyfile(src, dest)
            total += st.st_size
            if total >= budget * 0.98:
                return total
    return total


def build_image(path: Path, size: int, source: Path, seed: int = 1) -> None:
    fs_size = (size * 85 // 100) // MiB * MiB
    random_end = (size * 90 // 100) // MiB * MiB
    staging = path.with_name(path.name + ".files")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        _stage_files(source, staging, fs_size // 2)
        with path.open("wb") as f:
            f.truncate(size)
        subprocess.run(
            [
                "mke2fs",
                "-q",
                "-F",
                "-t",
                "ext4",
                "-b",
                "4096",
                "-d",
                str(staging),
                str(path),
                f"{fs_size // 1024}k",
            ],
            check=True,
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    rng = random.Random(seed)
    with path.open("r+b") as f:
        f.seek(fs_size)
        for _ in range((random_end - fs_size) // MiB):
            f.write(rng.randbytes(MiB))


def text_block(rng: random.Random, size: int) -> bytes:
    """Unique text-like bytes (random words): new, never-seen data that compresses like real files."""
    vocabulary = [rng.randbytes(rng.randrange(2, 7)).hex() for _ in range(4096)]
    out = bytearray()
    while len(out) < size:
        out += (
            " ".join(rng.choices(vocabulary, k=16)).encode() + b" " + rng.randbytes(12).hex().encode() + b"\n"
        )
    return bytes(out[:size])


def change_blocks(
    path: Path, fraction: float, seed: int, whole_blocks: bool, compressible: bool = False
) -> list[tuple[int, int]]:
    """Overwrite ``fraction`` of the image's 1 MiB blocks; return the changed extents.

    ``whole_blocks``: each chosen block is rewritten whole (clustered writes: new files, a package
    upgrade). Otherwise one 64 KiB write lands at a random 4 KiB-aligned offset inside each chosen block.
    The new bytes are random (incompressible), or text-like when ``compressible``.
    """
    size = path.stat().st_size
    blocks = size // BLOCK
    rng = random.Random(seed)
    chosen = sorted(rng.sample(range(blocks), max(1, round(blocks * fraction))))
    extents = []
    with path.open("r+b") as f:
        for b in chosen:
            if whole_blocks:
                offset, length = b * BLOCK, BLOCK
            else:
                offset, length = b * BLOCK + rng.randrange(0, BLOCK - WRITE + 1, 4096), WRITE
            f.seek(offset)
            f.write(text_block(rng, length) if compressible else rng.randbytes(length))
            extents.append((offset, length))
    return extents


PAGE = 4096  # a database page


def database_day(path: Path, page_fraction: float, seed: int) -> list[tuple[int, int]]:
    """A day of a database VM: ``page_fraction`` of the 4 KiB pages of a file holding the middle third
    of the disk are rewritten, each at a random page (rows updated all over the table). A rewritten page
    keeps half of its old bytes (the rest of its rows) and gets half new, text-like ones. Returns the
    changed extents, as a dirty bitmap would report them (the vault rounds them out to its pieces)."""
    size = path.stat().st_size
    first, last = size // 3 // PAGE, 2 * size // 3 // PAGE
    rng = random.Random(seed)
    pages = sorted(rng.sample(range(first, last), max(1, round((last - first) * page_fraction))))
    extents = []
    with path.open("r+b") as f:
        for page in pages:
            f.seek(page * PAGE)
            old = f.read(PAGE // 2)
            f.seek(page * PAGE)
            f.write(old + text_block(rng, PAGE // 2))
            extents.append((page * PAGE, PAGE))
    return extents
