"""Reading a whole disk through the vault's NBD export against restoring it, and the cost of a 1 MiB read.

One repository (posix, default settings: 1 MiB chunks, zstd 3, no password) holds the benchmark's ext4
image (bench/images.py). Then, alternately and best of ``--runs``:

- restore: the product's streaming restore (``restore_to_writer``) into a fresh sparse file;
- nbd: ``qemu-img convert -f raw -O raw nbd+unix://...`` of the disk served by ``NbdExport`` over a
  ``DiskReader`` (in this process, its default 16 MiB cache) into a fresh file.

Both outputs are compared with the image. qemu-img asks the export for block status (structured
replies, ``base:allocation``) and copies only the blocks that hold data, as the restore does. Finally
a fresh reader (no cache) reads 1 MiB aligned and 1 MiB across a block boundary, and counts the chunks
and bytes it fetched from the repository.

    .venv/bin/python bench/nbd_export_bench.py --size-mib 1024
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from images import build_image  # noqa: E402

from t4o.vault import DiskReader, NbdExport, PosixBackend, Repository, restore_to_writer  # noqa: E402

MiB = 1 << 20


class FileWriter:
    """A block writer over a fresh sparse file (nothing to zero: it holds no data yet)."""

    def __init__(self, path: Path, size: int):
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.ftruncate(self.fd, size)
        self.size = size

    def write(self, offset: int, data: bytes) -> None:
        os.pwrite(self.fd, data, offset)

    def write_zeroes(self, offset: int, length: int) -> None:
        pass

    def data_extents(self) -> list[tuple[int, int]]:
        return []

    def flush(self) -> None:
        os.fsync(self.fd)

    def close(self) -> None:
        os.close(self.fd)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--source", default="/usr/share", help="files for the ext4 image")
    ap.add_argument("--workdir", help="where the image, repository and outputs go (default: a temp dir)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="nbd-bench-", dir=args.workdir) as tmp:
        work = Path(tmp)
        image = work / "disk.raw"
        size = args.size_mib * MiB
        build_image(image, size, Path(args.source))
        repo = Repository.init(PosixBackend(work / "repo"))
        m = repo.backup_disk(image, "vda", snapshot_id="s1")
        stored = sum(1 for c in m.chunks if c)
        print(f"image {args.size_mib} MiB, {stored} stored blocks of {len(m.chunks)}", flush=True)

        restore_s: list[float] = []
        nbd_s: list[float] = []
        for run in range(args.runs):
            out = work / "restored.raw"
            t0 = time.monotonic()
            w = FileWriter(out, m.size)
            try:
                restore_to_writer(repo, m.ref, w)
            finally:
                w.close()
            restore_s.append(time.monotonic() - t0)
            assert filecmp.cmp(out, image, shallow=False), "restored disk differs"
            out.unlink()

            out = work / "nbd.raw"
            reader = DiskReader(repo, m.ref)
            t0 = time.monotonic()
            with NbdExport(reader, socket_path=work / "nbd.sock") as export:
                subprocess.run(
                    ["qemu-img", "convert", "-f", "raw", "-O", "raw", export.url, str(out)], check=True
                )
            nbd_s.append(time.monotonic() - t0)
            copy_stats = reader.stats()
            assert filecmp.cmp(out, image, shallow=False), "disk read through NBD differs"
            out.unlink()
            print(f"run {run + 1}: restore {restore_s[-1]:.2f} s, nbd {nbd_s[-1]:.2f} s", flush=True)

        # A 1 MiB read in the ext4 area where the image holds data, aligned and across a boundary.
        data_blocks = [i for i, c in enumerate(m.chunks) if c and i + 1 < len(m.chunks) and m.chunks[i + 1]]
        block = data_blocks[len(data_blocks) // 2]
        reads = {}
        for name, off in (("aligned", block * MiB), ("unaligned", block * MiB + MiB // 2)):
            r = DiskReader(repo, m.ref, cache_mib=0)
            t0 = time.monotonic()
            r.read(off, MiB)
            st = r.stats()
            reads[name] = {
                "chunks_fetched": st.chunks_fetched,
                "bytes_fetched": st.bytes_fetched,
                "ms": round((time.monotonic() - t0) * 1000, 1),
            }
        result = {
            "size_mib": args.size_mib,
            "restore_s": round(min(restore_s), 2),
            "nbd_s": round(min(nbd_s), 2),
            "restore_mib_s": round(args.size_mib / min(restore_s), 1),
            "nbd_mib_s": round(args.size_mib / min(nbd_s), 1),
            "nbd_vs_restore": round(min(restore_s) / min(nbd_s), 2),
            "nbd_copy_chunks_fetched": copy_stats.chunks_fetched,
            "nbd_copy_zero_blocks_read": copy_stats.zero_chunks,
            "stored_blocks": stored,
            "load_average": os.getloadavg()[0],
            "read_1mib": reads,
        }
        print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
