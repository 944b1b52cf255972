#!/usr/bin/env python3
"""File-level recovery from the vault: listing, downloading and searching the files of snapshot disks.

    .venv/bin/python bench/file_recovery_bench.py                      # 10 GiB disk, 1 GiB file, 30 snapshots
    .venv/bin/python bench/file_recovery_bench.py --disk-size 256M --big-file 16M --snapshots 3

The disk: a sparse raw image holding one ext4 filesystem (``mke2fs -d`` from a tree this script writes:
a file of random bytes (``--big-file``), a 1 MiB file, ``--small-files`` small files in nested
directories, every tenth a ``.conf``, and a 10,000-byte state file). It goes into a posix vault in a
temporary directory (default settings: 1 MiB chunks, zstd, no password) as a full snapshot, then
``--snapshots`` - 1 incrementals, each after new bytes were written into the state file's blocks (found
with ``debugfs blocks``), with those blocks as the changed extents.

Each snapshot disk is opened as the API opens one (t4o/workloads/file_browser.py): vault opened,
``DiskReader`` (16 MiB cache), ``NbdExport`` on a unix socket, ``open_disk`` over the export (nbdfuse,
debugfs). Measured, against the goals of file-level recovery:

- listing the root of the newest snapshot disk: cold (vault open, NBD export, FUSE mount and
  filesystem open, first listing; a fresh open each run) and warm (the same disk listed again);
- downloading the big file (a fresh open each run; the bytes written to a file and fsynced) against a
  full restore of the same disk (``Repository.restore_disk`` to a raw file, which fsyncs too), and
  against ``qemu-img convert -f raw -O raw`` of the image (then fsynced). Throughput of the download:
  the file's bytes; of the restore and qemu-img: the disk's data (its stored blocks, holes skipped);
- a search for the state file's path and for the glob ``*.conf`` across every snapshot, each
  snapshot disk opened, searched and closed in turn, as a search job does;
- the chunks and bytes fetched from the vault to read the 1 MiB file on a freshly opened disk.

Every result is checked against the tree the script wrote (the downloaded files, the state file's
version in each snapshot, the number of ``.conf`` files). The vault's chunk files are in the page
cache (just written): the cold figures are cold for the product (no open disk, empty chunk cache,
fresh FUSE mount), not for the machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from t4o.filerecovery import Disk, FilesystemReader, open_disk  # noqa: E402
from t4o.vault import DiskReader, Manifest, NbdExport, PosixBackend, Repository  # noqa: E402

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
BLOCK = 4096  # the ext4 block size
CACHE_MIB = 16  # [file_recovery] cache_mib's default
BIG = "/srv/media/big.bin"
ONE_MIB = "/srv/docs/one-mib.bin"
STATE = "/srv/app/state.txt"  # the file every incremental rewrites
STATE_SIZE = 10_000  # three blocks, the last one partly used
GLOB = "*.conf"
CONF_EVERY = 10  # every tenth small file is a .conf

# The goals of file-level recovery.
LIST_SECONDS = 2.0
DOWNLOAD_VS_RESTORE = 0.5
SEARCH_SECONDS = 60.0
ONE_MIB_CHUNKS = 4  # a 1 MiB file straddles at most 2 chunks; its inode and the path's directories 1 or 2


def parse_size(text: str) -> int:
    units = {"K": KiB, "M": MiB, "G": GiB, "T": 1 << 40}
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def human(n: float) -> str:
    for prefix in ("", "Ki", "Mi", "Gi"):
        if abs(n) < 1024 or prefix == "Gi":
            return f"{n:.0f} B" if prefix == "" else f"{n:.1f} {prefix}B"
        n /= 1024
    return f"{n:.1f} GiB"


def say(text: str) -> None:
    print(f"[{dt.datetime.now(dt.UTC):%H:%M:%S}] {text}", flush=True)


# -- the disk and its snapshots --------------------------------------------------------------------


def state_bytes(version: int) -> bytes:
    """The state file as snapshot ``version`` (1 = the full) holds it."""
    return random.Random(1000 + version).randbytes(STATE_SIZE)


def small_file_path(i: int) -> str:
    kind = "conf" if i % CONF_EVERY == 0 else "txt"
    return f"/data/d{i // 100:03d}/e{i // 10 % 10}/f{i:05d}.{kind}"


def write_tree(root: Path, big_file: int, small_files: int) -> None:
    """The files of the disk: a random big file, a random 1 MiB file, small text files, the state."""
    rng = random.Random(7)

    def put(path: str, data: bytes) -> None:
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    put(STATE, state_bytes(1))
    put(ONE_MIB, rng.randbytes(MiB))
    for i in range(small_files):
        put(small_file_path(i), f"file {i}\n".encode() * rng.randint(5, 200))
    big = root / BIG.lstrip("/")
    big.parent.mkdir(parents=True, exist_ok=True)
    with big.open("wb") as f:
        left = big_file
        while left > 0:
            n = min(left, 16 * MiB)
            f.write(os.urandom(n))
            left -= n


def run(*args: str | Path) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchFailed(f"{args[0]} failed: {(done.stderr or done.stdout).strip()}")
    return done.stdout


def make_image(tree: Path, image: Path, disk_size: int) -> None:
    run("mke2fs", "-q", "-F", "-t", "ext4", "-b", str(BLOCK), "-d", tree, "-E", "root_owner=0:0", image,
        f"{disk_size // KiB}k")  # fmt: skip


def file_blocks(image: Path, path: str) -> list[int]:
    """Byte offsets in the image of the file's data blocks, in file order."""
    return [int(b) * BLOCK for b in run("debugfs", "-R", f"blocks {path}", image).split()]


def rewrite(image: Path, offsets: list[int], data: bytes) -> list[tuple[int, int]]:
    """``data`` written into the file's blocks (the rest of the last block zero, as ext4 leaves it);
    the changed extents (offset, length), merged."""
    padded = data + bytes(len(offsets) * BLOCK - len(data))
    fd = os.open(image, os.O_WRONLY)
    try:
        for i, offset in enumerate(offsets):
            os.pwrite(fd, padded[i * BLOCK : (i + 1) * BLOCK], offset)
        os.fsync(fd)
    finally:
        os.close(fd)
    extents: list[tuple[int, int]] = []
    for offset in sorted(offsets):
        if extents and extents[-1][0] + extents[-1][1] == offset:
            extents[-1] = (extents[-1][0], extents[-1][1] + BLOCK)
        else:
            extents.append((offset, BLOCK))
    return extents


def data_bytes(m: Manifest) -> int:
    """Bytes of the disk's stored blocks: what a restore writes."""
    cs = m.chunk_size
    return sum(min(cs, m.size - i * cs) for i, cid in enumerate(m.chunks) if cid)


# -- a snapshot disk opened as the API opens one ---------------------------------------------------


@dataclass
class Opened:
    reader: DiskReader
    export: NbdExport
    disk: Disk
    fs: FilesystemReader
    phases: dict[str, float]

    def close(self) -> None:
        try:
            self.disk.close()
        finally:
            self.export.stop()
            self.reader.close()


def open_snapshot_disk(repo_dir: Path, ref: str, socket_dir: Path) -> Opened:
    """Vault opened, disk reader, NBD export on a unix socket, disk and its filesystem opened."""
    t0 = time.monotonic()
    repo = Repository.open(PosixBackend(repo_dir))
    reader = DiskReader(repo, ref, cache_mib=CACHE_MIB)
    t1 = time.monotonic()
    export = NbdExport(reader, socket_path=socket_dir / "nbd.sock").start()
    t2 = time.monotonic()
    try:
        disk = open_disk(export.url)
        fs = disk.filesystem(None)
    except BaseException:
        export.stop()
        reader.close()
        raise
    t3 = time.monotonic()
    phases = {"vault_open": t1 - t0, "nbd_export": t2 - t1, "fuse_and_filesystem": t3 - t2}
    return Opened(reader, export, disk, fs, phases)


class BenchFailed(RuntimeError):
    """A result differs from what the script wrote, or a tool failed."""


@dataclass
class Bench:
    work: Path
    disk_size: int
    big_file: int
    small_files: int
    snapshots: int
    runs: int
    refs: list[str] = field(default_factory=list)
    manifest: Manifest | None = None  # the newest snapshot's disk
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def tree(self) -> Path:
        return self.work / "tree"

    @property
    def image(self) -> Path:
        return self.work / "disk.raw"

    @property
    def repo_dir(self) -> Path:
        return self.work / "vault"

    def open(self, ref: str) -> Opened:
        return open_snapshot_disk(self.repo_dir, ref, Path(tempfile.mkdtemp(prefix="sock-", dir=self.work)))


T = TypeVar("T")


def timed(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[float, T]:
    """Seconds the call took, and what it returned."""
    started = time.monotonic()
    value = fn(*args, **kwargs)
    return time.monotonic() - started, value


def build(b: Bench) -> None:
    say(f"writing the tree: {human(b.big_file)} file, 1 MiB file, {b.small_files} small files")
    write_tree(b.tree, b.big_file, b.small_files)
    say(f"mke2fs -d into a {human(b.disk_size)} sparse image")
    make_image(b.tree, b.image, b.disk_size)
    state_at = file_blocks(b.image, STATE)
    if len(state_at) != -(-STATE_SIZE // BLOCK):
        raise BenchFailed(f"{STATE} has blocks {state_at}, expected {-(-STATE_SIZE // BLOCK)}")
    repo = Repository.init(PosixBackend(b.repo_dir))
    full_s, m = timed(repo.backup_disk, b.image, "vda", snapshot_id="snap-01")
    say(f"full backup {full_s:.1f} s: {sum(1 for c in m.chunks if c)} of {len(m.chunks)} blocks stored")
    b.refs = [m.ref]
    incremental_s = 0.0
    for version in range(2, b.snapshots + 1):
        extents = rewrite(b.image, state_at, state_bytes(version))
        seconds, m = timed(
            repo.backup_disk,
            b.image,
            "vda",
            parent=b.refs[-1],
            changed_extents=extents,
            snapshot_id=f"snap-{version:02d}",
        )
        incremental_s += seconds
        b.refs.append(m.ref)
    say(f"{b.snapshots - 1} incrementals, {incremental_s:.1f} s in all")
    b.manifest = m
    b.results["build"] = {
        "full_backup_s": round(full_s, 2),
        "incrementals": b.snapshots - 1,
        "incrementals_s": round(incremental_s, 2),
        "stored_blocks": sum(1 for c in m.chunks if c),
        "disk_blocks": len(m.chunks),
        "data_bytes": data_bytes(m),
    }


def measure_listing(b: Bench) -> None:
    """The root of the newest snapshot disk: a fresh open and first listing, then listed again."""
    say("listing the root, cold and warm")
    expected = sorted(["lost+found", "srv"] + (["data"] if b.small_files else []))
    cold: list[dict[str, float]] = []
    warm: list[float] = []
    for _ in range(b.runs):
        started = time.monotonic()
        o = b.open(b.refs[-1])
        try:
            first, entries = timed(o.fs.list, "/")
            total = time.monotonic() - started
            if sorted(e.name for e in entries) != expected:
                raise BenchFailed(f"root lists {[e.name for e in entries]}, expected {expected}")
            cold.append({"total": total, **o.phases, "first_listing": first})
            for _ in range(5):
                warm.append(timed(o.fs.list, "/")[0])
        finally:
            o.close()
    best = min(cold, key=lambda c: c["total"])
    b.results["listing"] = {
        "entries": len(expected),
        "cold_s": round(best["total"], 3),
        "cold_runs_s": [round(c["total"], 3) for c in cold],
        "cold_phases_s": {k: round(v, 3) for k, v in best.items() if k != "total"},
        "warm_s": round(min(warm), 3),
        "warm_median_s": round(sorted(warm)[len(warm) // 2], 3),
    }


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def measure_download(b: Bench) -> None:
    """The big file through the file recovery stack against a full restore of the disk (and qemu-img)."""
    assert b.manifest is not None
    say(f"downloading {BIG} ({human(b.big_file)}) against a full restore, {b.runs} runs alternated")
    restored, downloaded, copied = b.work / "restored.raw", b.work / "downloaded.bin", b.work / "copied.raw"
    qemu_img = shutil.which("qemu-img")
    restore_s: list[float] = []
    download_s: list[float] = []
    qemu_s: list[float] = []
    chunks = 0
    for run_no in range(b.runs):

        def restore() -> None:
            Repository.open(PosixBackend(b.repo_dir)).restore_disk(b.refs[-1], restored, fmt="raw")

        restore_s.append(timed(restore)[0])
        restored.unlink()

        o = b.open(b.refs[-1])
        try:

            def download(o: Opened = o) -> None:
                with downloaded.open("wb") as f:
                    for piece in o.fs.read(BIG):
                        f.write(piece)
                    f.flush()
                    os.fsync(f.fileno())

            download_s.append(timed(download)[0])
            chunks = o.reader.stats().chunks_fetched
        finally:
            o.close()
        if not same_content(downloaded, b.tree / BIG.lstrip("/")):
            raise BenchFailed(f"the downloaded {BIG} differs from the file written into the disk")
        downloaded.unlink()

        if qemu_img:

            def convert() -> None:
                run(qemu_img, "convert", "-f", "raw", "-O", "raw", b.image, copied)
                fsync_file(copied)

            qemu_s.append(timed(convert)[0])
            copied.unlink()
        peer = f", qemu-img {qemu_s[-1]:.2f} s" if qemu_s else ""
        say(f"  run {run_no + 1}: restore {restore_s[-1]:.2f} s, download {download_s[-1]:.2f} s{peer}")
    data = data_bytes(b.manifest)
    dl_rate = b.big_file / min(download_s)
    restore_rate = data / min(restore_s)
    b.results["download"] = {
        "file_bytes": b.big_file,
        "disk_data_bytes": data,
        "download_s": round(min(download_s), 3),
        "download_runs_s": [round(s, 3) for s in download_s],
        "download_mib_s": round(dl_rate / MiB, 1),
        "download_chunks_fetched": chunks,
        "restore_s": round(min(restore_s), 3),
        "restore_runs_s": [round(s, 3) for s in restore_s],
        "restore_mib_s": round(restore_rate / MiB, 1),
        "download_vs_restore": round(dl_rate / restore_rate, 2),
        "qemu_img_s": round(min(qemu_s), 3) if qemu_s else None,
        "qemu_img_mib_s": round(data / min(qemu_s) / MiB, 1) if qemu_s else None,
        "download_vs_qemu_img": round(dl_rate / (data / min(qemu_s)), 2) if qemu_s else None,
    }


def same_content(a: Path, b: Path) -> bool:
    return subprocess.run(["cmp", "-s", str(a), str(b)]).returncode == 0


def measure_search(b: Bench) -> None:
    """One search job per pattern: every snapshot's disk opened, searched, closed in turn."""
    for label, pattern in (("path", STATE), ("glob", GLOB)):
        say(f"searching {pattern!r} across {len(b.refs)} snapshots")
        opening = searching = closing = slowest = 0.0
        matches = 0
        for version, ref in enumerate(b.refs, 1):
            open_s, o = timed(b.open, ref)
            try:
                search_s, found = timed(o.disk.search, pattern)
                entries = [e for volume in found for e in volume.entries]
                check_matches(b, o, label, version, entries)
            finally:
                close_s = timed(o.close)[0]
            matches += len(entries)
            opening, searching, closing = opening + open_s, searching + search_s, closing + close_s
            slowest = max(slowest, open_s + search_s + close_s)
        b.results.setdefault("search", {})[label] = {
            "pattern": pattern,
            "snapshots": len(b.refs),
            "matches": matches,
            "total_s": round(opening + searching + closing, 2),
            "open_s": round(opening, 2),
            "search_s": round(searching, 2),
            "close_s": round(closing, 2),
            "slowest_snapshot_s": round(slowest, 3),
        }


def check_matches(b: Bench, o: Opened, label: str, version: int, entries: list[Any]) -> None:
    """The matches are the files the script wrote; the state file holds this snapshot's version."""
    if label == "path":
        if [(e.path, e.size) for e in entries] != [(STATE, STATE_SIZE)]:
            raise BenchFailed(f"snapshot {version}: {STATE} search found {[e.path for e in entries]}")
        if b"".join(o.fs.read(STATE)) != state_bytes(version):
            raise BenchFailed(f"snapshot {version}: {STATE} does not hold version {version}")
    else:
        paths = sorted(e.path for e in entries)
        wanted = sorted(small_file_path(i) for i in range(0, b.small_files, CONF_EVERY))
        if paths != wanted:
            raise BenchFailed(f"snapshot {version}: {GLOB} found {len(paths)} files, expected {len(wanted)}")


def measure_one_mib(b: Bench) -> None:
    """What reading a 1 MiB file fetches from the vault, on a freshly opened disk."""
    assert b.manifest is not None
    say(f"chunks fetched for {ONE_MIB}")
    o = b.open(b.refs[-1])
    try:
        opened = o.reader.stats()
        data = b"".join(o.fs.read(ONE_MIB))
        after = o.reader.stats()
    finally:
        o.close()
    if data != (b.tree / ONE_MIB.lstrip("/")).read_bytes():
        raise BenchFailed(f"{ONE_MIB} read from the snapshot differs from the file written")
    b.results["one_mib"] = {
        "open_chunks_fetched": opened.chunks_fetched,
        "open_bytes_fetched": opened.bytes_fetched,
        "file_chunks_fetched": after.chunks_fetched - opened.chunks_fetched,
        "file_bytes_fetched": after.bytes_fetched - opened.bytes_fetched,
        "total_chunks_fetched": after.chunks_fetched,
        "total_bytes_fetched": after.bytes_fetched,
        "disk_stored_blocks": sum(1 for c in b.manifest.chunks if c),
    }


# -- report ------------------------------------------------------------------------------------------


def search_target(snapshots: int) -> float:
    """The search goal (60 s for 30 snapshots), scaled to the run's number of snapshots."""
    return SEARCH_SECONDS * snapshots / 30


def goals(r: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(goal, measured, met) for each goal of file-level recovery."""
    listing, dl, one = r["listing"], r["download"], r["one_mib"]
    out = [
        (
            f"list the root, cold, < {LIST_SECONDS:.0f} s",
            f"{listing['cold_s']:.2f} s",
            listing["cold_s"] < LIST_SECONDS,
        ),
        (
            f"list the root, warm, < {LIST_SECONDS:.0f} s",
            f"{listing['warm_s']:.3f} s",
            listing["warm_s"] < LIST_SECONDS,
        ),
        (
            f"download >= {DOWNLOAD_VS_RESTORE}x the full restore's throughput",
            f"{dl['download_vs_restore']:.2f}x ({dl['download_mib_s']} vs {dl['restore_mib_s']} MiB/s)",
            dl["download_vs_restore"] >= DOWNLOAD_VS_RESTORE,
        ),
    ]
    for label, s in r["search"].items():
        limit = search_target(s["snapshots"])
        out.append(
            (
                f"search a {label} across {s['snapshots']} snapshots < {limit:.0f} s",
                f"{s['total_s']:.1f} s",
                s["total_s"] < limit,
            )
        )
    out.append(
        (
            f"1 MiB file: <= {ONE_MIB_CHUNKS} chunks fetched",
            f"{one['file_chunks_fetched']} chunks, {human(one['file_bytes_fetched'])} "
            f"(of {one['disk_stored_blocks']} stored)",
            one["file_chunks_fetched"] <= ONE_MIB_CHUNKS,
        )
    )
    return out


def table(r: dict[str, Any]) -> str:
    listing, dl, one = r["listing"], r["download"], r["one_mib"]
    phases = ", ".join(f"{k.replace('_', ' ')} {v:.3f} s" for k, v in listing["cold_phases_s"].items())
    qemu = (
        f"{dl['qemu_img_s']:.2f} s, {dl['qemu_img_mib_s']} MiB/s; "
        f"download at {dl['download_vs_qemu_img']:.2f}x"
        if dl["qemu_img_s"] is not None
        else "qemu-img not installed"
    )
    rows = [
        ("list the root, cold", f"{listing['cold_s']:.2f} s", phases),
        ("list the root, warm", f"{listing['warm_s']:.3f} s", f"median {listing['warm_median_s']:.3f} s"),
        (
            f"download {human(dl['file_bytes'])}",
            f"{dl['download_s']:.2f} s",
            f"{dl['download_mib_s']} MiB/s, {dl['download_chunks_fetched']} chunks fetched",
        ),
        (
            "full restore of the disk",
            f"{dl['restore_s']:.2f} s",
            f"{human(dl['disk_data_bytes'])} of data, {dl['restore_mib_s']} MiB/s; "
            f"download at {dl['download_vs_restore']:.2f}x",
        ),
        (
            "qemu-img convert of the image",
            "-" if dl["qemu_img_s"] is None else f"{dl['qemu_img_s']:.2f} s",
            qemu,
        ),
    ]
    for label, s in r["search"].items():
        rows.append(
            (
                f"search {label} `{s['pattern']}`, {s['snapshots']} snapshots",
                f"{s['total_s']:.1f} s",
                f"{s['matches']} matches; open {s['open_s']:.1f} s, search {s['search_s']:.1f} s, "
                f"close {s['close_s']:.1f} s; slowest snapshot {s['slowest_snapshot_s']:.2f} s",
            )
        )
    rows.append(
        (
            "read a 1 MiB file, fresh disk",
            f"{one['file_chunks_fetched']} chunks",
            f"{human(one['file_bytes_fetched'])} fetched; opening the disk: {one['open_chunks_fetched']} "
            f"chunks, {human(one['open_bytes_fetched'])}; disk: {one['disk_stored_blocks']} stored blocks",
        )
    )
    lines = ["| measure | result | detail |", "| --- | ---: | --- |"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def machine(load_at_start: str) -> dict[str, str]:
    cpu = "unknown"
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    for line in lscpu.splitlines():
        if line.startswith("Model name:"):
            cpu = line.split(":", 1)[1].strip()
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load": f"{load_at_start} at the start, {loadavg()} at the end (1, 5, 15 min)",
    }


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--disk-size", type=parse_size, default=parse_size("10G"), help="disk size (10G)")
    parser.add_argument("--big-file", type=parse_size, default=parse_size("1G"), help="file downloaded (1G)")
    parser.add_argument("--small-files", type=int, default=3000, help="small files in nested dirs (3000)")
    parser.add_argument("--snapshots", type=int, default=30, help="snapshots: a full and incrementals (30)")
    parser.add_argument("--runs", type=int, default=3, help="runs of the listing and download (best kept)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--workdir", type=Path, help="where the image and vault go (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.snapshots < 1 or args.runs < 1:
        parser.error("--snapshots and --runs must be at least 1")
    for tool in ("mke2fs", "debugfs", "nbdfuse", "fusermount3", "cmp"):
        if shutil.which(tool) is None:
            print(f"file_recovery_bench: {tool} is missing: run scripts/bootstrap", file=sys.stderr)
            return 2
    load_at_start = loadavg()
    work = Path(tempfile.mkdtemp(prefix="t4o-fr-bench-", dir=args.workdir))
    b = Bench(work, args.disk_size, args.big_file, args.small_files, args.snapshots, args.runs)
    try:
        build(b)
        measure_listing(b)
        measure_download(b)
        measure_search(b)
        measure_one_mib(b)
    except BenchFailed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    info = machine(load_at_start)
    print()
    print(
        f"{human(b.disk_size)} ext4 disk, {human(b.big_file)} file, {b.small_files} small files, "
        f"{b.snapshots} snapshots; {info['nproc']} CPU ({info['cpu']}), kernel {info['kernel']}, "
        f"load {info['load']}, {info['date']}"
    )
    print(table(b.results))
    print()
    verdicts = goals(b.results)
    for name, measured, ok in verdicts:
        print(f"{'PASS' if ok else 'MISS'} {name}: {measured}")
    if args.json:
        figures = {
            "machine": info,
            "params": {
                "disk_size": b.disk_size,
                "big_file": b.big_file,
                "small_files": b.small_files,
                "snapshots": b.snapshots,
                "runs": b.runs,
            },
            **b.results,
            "goals": [{"goal": n, "measured": m, "met": ok} for n, m, ok in verdicts],
        }
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
