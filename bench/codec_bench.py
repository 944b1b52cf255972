#!/usr/bin/env python3
"""Where a chunk's CPU goes: zstd levels and threads, AES-GCM and the GIL, decode copies.

    .venv/bin/python bench/codec_bench.py --size 1G          # builds the benchmark's image (or --image PATH)

Every figure is CPU or wall time over the image's non-zero 1 MiB blocks, in this process, with the
blocks already in memory, so the figures compare the codec alone (no I/O). Results: stdout as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import zstandard
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from images import build_image  # noqa: E402
from vault_bench import parse_size  # noqa: E402

from t4o.vault.chunks import ChunkCodec, is_zero  # noqa: E402

MiB = 1024**2


def load_blocks(image: Path, chunk: int = MiB) -> list[bytes]:
    blocks = []
    with image.open("rb") as f:
        while data := f.read(chunk):
            if not is_zero(data):
                blocks.append(data)
    return blocks


def timed(fn: Callable[[], object], repeat: int = 3) -> tuple[float, float]:
    """(wall, process CPU) seconds of the fastest of ``repeat`` calls: the machine may be shared."""
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - w, time.process_time() - c))
    return round(best[0], 3), round(best[1], 3)


def in_threads(n: int, items: list[bytes], fn: Callable[[bytes], object]) -> None:
    with ThreadPoolExecutor(n) as pool:
        for _ in pool.map(fn, items, chunksize=8):
            pass


def zstd_levels(blocks: list[bytes]) -> dict[str, object]:
    out: dict[str, object] = {}
    for level in (1, 2, 3):
        cctx = zstandard.ZstdCompressor(level=level)
        stored = sum(min(len(cctx.compress(b)), len(b)) for b in blocks)
        local = threading.local()

        def per_thread(b: bytes, level: int = level) -> None:
            if not hasattr(local, "cctx"):  # noqa: B023
                local.cctx = zstandard.ZstdCompressor(level=level)  # noqa: B023
            local.cctx.compress(b)  # noqa: B023

        mt = zstandard.ZstdCompressor(level=level, threads=2)
        out[f"level {level}"] = {
            "stored MiB": round(stored / MiB, 1),
            "1 thread wall/cpu s": timed(lambda: [cctx.compress(b) for b in blocks]),  # noqa: B023
            "2 python threads wall/cpu s": timed(lambda: in_threads(2, blocks, per_thread)),
            "zstd threads=2 wall/cpu s": timed(lambda: [mt.compress(b) for b in blocks]),  # noqa: B023
        }
    return out


def aes_gil(blocks: list[bytes]) -> dict[str, object]:
    aead = AESGCM(os.urandom(32))
    data = b"".join(blocks[:256])  # 256 MiB of the image's data
    out: dict[str, object] = {}
    for size in (256 * 1024, MiB, 4 * MiB):
        parts = [data[i : i + size] for i in range(0, len(data), size)]

        def enc(p: bytes) -> bytes:
            return aead.encrypt(os.urandom(12), p, b"aad")

        one = timed(lambda: [enc(p) for p in parts])  # noqa: B023
        two = timed(lambda: in_threads(2, parts, enc))  # noqa: B023
        out[f"{size // 1024} KiB chunks"] = {
            "MiB/s 1 thread": round(len(data) / MiB / one[0]),
            "MiB/s 2 threads": round(len(data) / MiB / two[0]),
        }
    return out


def decode_cost(blocks: list[bytes]) -> dict[str, object]:
    codec = ChunkCodec(os.urandom(32), os.urandom(32))
    sample = blocks[:512]
    ids = [codec.chunk_id(b) for b in sample]
    blobs = [codec.encode(c, b) for c, b in zip(ids, sample, strict=True)]

    def old(cid: str, blob: bytes) -> bytes:  # the former decode: two slices, a decompressor per chunk
        payload = blob[4:]
        payload = codec._aead.decrypt(payload[:12], payload[12:], bytes.fromhex(cid))  # type: ignore[union-attr]
        data = zstandard.ZstdDecompressor().decompress(payload, max_output_size=MiB) if blob[1] else payload
        assert codec.chunk_id(data) == cid
        return data

    pairs = list(zip(ids, blobs, strict=True))
    res: dict[str, object] = {"MiB": len(sample)}
    for name, fn in (("old", old), ("new", lambda c, b: codec.decode(c, b, MiB))):
        res[f"{name} 1 thread wall/cpu s"] = timed(lambda fn=fn: [fn(c, b) for c, b in pairs])
        res[f"{name} 2 threads wall/cpu s"] = timed(
            lambda fn=fn: list(ThreadPoolExecutor(2).map(lambda p: fn(*p), pairs))
        )
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=parse_size("1G"))
    parser.add_argument("--image", type=Path, help="an existing image instead of building one")
    parser.add_argument("--source", type=Path, default=Path("/usr"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="codec-bench-") as tmp:
        image = args.image
        if image is None:
            image = Path(tmp) / "disk.raw"
            build_image(image, args.size, args.source)
        blocks = load_blocks(image)
    result = {
        "load average": os.getloadavg(),
        "non-zero MiB": len(blocks),
        "zstd": zstd_levels(blocks),
        "aes-gcm": aes_gil(blocks),
        "decode": decode_cost(blocks),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
