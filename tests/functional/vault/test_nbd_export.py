"""The read-only NBD export of a vault disk, read by real NBD clients (qemu-img, qemu-io, nbdinfo)."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from t4o.vault import DiskReader, NbdExport, PosixBackend, Repository, backup_source
from t4o.vault.s3 import S3Backend
from tests.fixtures.s3 import S3Bucket
from tests.functional.vault.conftest import MiB, need, write_disk

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def disk(tmp_path) -> tuple[Repository, bytes]:
    """A 20 MiB disk of random blocks with holes and a few small writes off block boundaries, backed up
    with the product's backup; returns the repository and the model of the disk's bytes."""
    path = write_disk(tmp_path / "disk.raw", 20, seed=11)
    rnd = random.Random(12)
    with open(path, "r+b") as f:
        for off in (MiB - 100, 5 * MiB + 3, 13 * MiB + 4095):
            f.seek(off)
            f.write(rnd.randbytes(300))
    repo = Repository.init(PosixBackend(tmp_path / "repo", fsync=False))
    backup_source(repo, str(path), "vda", snapshot_id="s1", workload_id="w")
    return repo, path.read_bytes()


def convert(url: str, out: Path) -> bytes:
    subprocess.run(
        [need("qemu-img"), "convert", "-f", "raw", "-O", "raw", url, str(out)], check=True, timeout=120
    )
    return out.read_bytes()


def qemu_io_read(url: str, off: int, n: int) -> bytes:
    """``qemu-io -r -c 'read -v'``: the bytes as qemu-io dumps them."""
    proc = subprocess.run(
        [need("qemu-io"), "-r", "-f", "raw", "-c", f"read -v {off} {n}", url],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    out = bytearray()
    for line in proc.stdout.splitlines():
        head, sep, rest = line.partition(":  ")
        if sep and all(c in "0123456789abcdef" for c in head):
            out += bytes.fromhex(rest[: 16 * 3])
    return bytes(out)


def test_qemu_reads_the_disk_byte_for_byte(disk, tmp_path):
    repo, model = disk
    sock = tmp_path / "nbd.sock"
    reader = DiskReader(repo, "s1/vda")
    with NbdExport(reader, socket_path=sock) as export:
        assert oct(os.stat(sock).st_mode & 0o777) == "0o600"
        assert convert(export.url, tmp_path / "out.raw") == model
        for off, n in ((0, 16), (MiB - 120, 400), (5 * MiB - 8, 64), (20 * MiB - 32, 32)):
            assert qemu_io_read(export.url, off, n) == model[off : off + n], (off, n)
        info = json.loads(
            subprocess.run(
                [need("nbdinfo"), "--json", export.url],
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            ).stdout
        )
        (exp,) = info["exports"]
        assert exp["export-size"] == len(model) and exp["is_read_only"] is True
    assert not sock.exists()


def test_writes_are_refused(disk, tmp_path):
    repo, model = disk
    with NbdExport(DiskReader(repo, "s1/vda"), socket_path=tmp_path / "s") as export:
        # qemu sees a read-only export and will not open it for writing ...
        proc = subprocess.run(
            [need("qemu-io"), "-f", "raw", "-c", "write -P 0xab 0 4096", export.url],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert "can't open device" in proc.stderr and "Permission denied" in proc.stderr, proc.stderr
        # ... and a client that writes anyway is answered EPERM, and can still read.
        with RawClient(tmp_path / "s") as c:
            assert c.request(1, 0, 4096, payload=b"\xab" * 4096) == (1, b"")  # EPERM
            assert c.request(6, 0, 4096) == (1, b"")  # write zeroes: EPERM
            assert c.request(3, 0, 0) == (0, b"")  # flush: nothing to do
            assert c.request(0, MiB - 10, 20) == (0, model[MiB - 10 : MiB + 10])
            assert c.request(0, len(model) - 1, 2)[0] == 22  # past the end: EINVAL


class RawClient:
    """A minimal NBD client speaking the protocol directly (fixed newstyle, NBD_OPT_GO)."""

    def __init__(self, path: Path, name: str = ""):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(str(path))
        magic, opt_magic, flags = struct.unpack(">QQH", self.recv(18))
        assert (magic, opt_magic) == (0x4E42444D41474943, 0x49484156454F5054) and flags & 1
        self.sock.sendall(struct.pack(">I", 3))  # fixed newstyle, no zeroes
        self.name = name.encode()

    def recv(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            part = self.sock.recv(n - len(buf))
            assert part, "server closed the connection"
            buf += part
        return buf

    def option(self, opt: int, data: bytes = b"") -> list[tuple[int, bytes]]:
        """Send an option; the replies up to the final one (ACK or an error)."""
        self.sock.sendall(struct.pack(">QII", 0x49484156454F5054, opt, len(data)) + data)
        replies = []
        while True:
            magic, ropt, kind, n = struct.unpack(">QIII", self.recv(20))
            assert magic == 0x3E889045565A9 and ropt == opt
            replies.append((kind, self.recv(n)))
            if kind not in (2, 3, 4):  # NBD_REP_SERVER, _INFO, _META_CONTEXT come before the last
                return replies

    def go(
        self, opt: int = 7, name: bytes | None = None, infos: tuple[int, ...] = ()
    ) -> list[tuple[int, bytes]]:
        name = self.name if name is None else name
        data = struct.pack(">I", len(name)) + name + struct.pack(">H", len(infos))
        data += b"".join(struct.pack(">H", i) for i in infos)
        return self.option(opt, data)

    def request(self, kind: int, off: int, n: int, payload: bytes = b"") -> tuple[int, bytes]:
        self.sock.sendall(struct.pack(">IHHQQI", 0x25609513, 0, kind, 77, off, n) + payload)
        magic, error, cookie = struct.unpack(">IIQ", self.recv(16))
        assert magic == 0x67446698 and cookie == 77
        return error, (self.recv(n) if kind == 0 and error == 0 else b"")

    def structured(self, kind: int, off: int, n: int, flags: int = 0) -> tuple[int, int, bytes]:
        """A request answered by one structured reply chunk: (flags, type, payload)."""
        self.sock.sendall(struct.pack(">IHHQQI", 0x25609513, flags, kind, 78, off, n))
        magic, rflags, rtype, cookie, length = struct.unpack(">IHHQI", self.recv(20))
        assert magic == 0x668E33EF and cookie == 78
        return rflags, rtype, self.recv(length)

    def __enter__(self) -> RawClient:
        replies = self.go()
        assert replies[-1][0] == 1, replies
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.sendall(struct.pack(">IHHQQI", 0x25609513, 0, 2, 0, 0, 0))  # NBD_CMD_DISC
        self.sock.close()


def test_options(disk, tmp_path):
    repo, model = disk
    with NbdExport(DiskReader(repo, "s1/vda"), socket_path=tmp_path / "s", name="s1/vda"):
        c = RawClient(tmp_path / "s")
        info = c.go(6, b"s1/vda", (3,))  # NBD_OPT_INFO with block sizes, then the export stays open
        assert [k for k, _ in info] == [3, 3, 1]
        typ, size, flags = struct.unpack(">HQH", info[0][1])
        assert (typ, size) == (0, len(model)) and flags & 2  # read-only
        assert c.go(7, b"nope")[-1][0] == (1 << 31) | 6  # unknown export
        assert c.option(3) == [(2, struct.pack(">I", 6) + b"s1/vda"), (1, b"")]  # NBD_OPT_LIST
        assert c.option(9, meta(b"s1/vda"))[-1][0] == (1 << 31) | 3  # meta contexts need structured replies
        assert c.option(5)[-1][0] == (1 << 31) | 1  # TLS: unsupported
        assert c.option(2) == [(1, b"")]  # NBD_OPT_ABORT
        c.sock.close()
        # the old NBD_OPT_EXPORT_NAME: size and flags, no reply header, then transmission
        c = RawClient(tmp_path / "s")
        c.sock.sendall(struct.pack(">QII", 0x49484156454F5054, 1, 6) + b"s1/vda")
        size, flags = struct.unpack(">QH", c.recv(10))
        assert size == len(model) and flags & 2
        assert c.request(0, 0, 100) == (0, model[:100])
        c.sock.close()


def meta(export: bytes, *queries: bytes) -> bytes:
    data = struct.pack(">I", len(export)) + export + struct.pack(">I", len(queries))
    return data + b"".join(struct.pack(">I", len(q)) + q for q in queries)


def test_structured_replies_and_block_status(disk, tmp_path):
    """Holes are answered as holes and NBD_CMD_BLOCK_STATUS maps the disk from its manifest, so qemu-img
    copies only the blocks that hold data; qemu-img map and nbdinfo --map see the same extents."""
    repo, model = disk
    reader = DiskReader(repo, "s1/vda")
    data_extents = reader.data_extents()
    # holes at blocks 9 and 17: write_disk leaves every fourth block a hole, the fixture wrote in 1, 5, 13
    assert data_extents == [(0, 9 * MiB), (10 * MiB, 7 * MiB), (18 * MiB, 2 * MiB)]
    with NbdExport(reader, socket_path=tmp_path / "s") as export:
        c = RawClient(tmp_path / "s")
        assert c.option(8) == [(1, b"")]
        assert c.option(9, meta(b"")) == [(4, struct.pack(">I", 0) + b"base:allocation"), (1, b"")]
        assert c.option(10, meta(b"", b"base:allocation")) == [
            (4, struct.pack(">I", 1) + b"base:allocation"),
            (1, b""),
        ]
        assert c.go()[-1][0] == 1
        flags, kind, payload = c.structured(7, 8 * MiB, 4 * MiB)  # blocks 8, 10, 11 hold data, 9 not
        assert (flags, kind) == (1, 5)
        ctx, *desc = struct.unpack(f">I{(len(payload) - 4) // 4}I", payload)
        extents = list(zip(desc[::2], desc[1::2], strict=True))
        assert ctx == 1 and extents == [(MiB, 0), (MiB, 3), (2 * MiB, 0)]
        flags, kind, payload = c.structured(7, 9 * MiB + 5, 3 * MiB, flags=8)  # NBD_CMD_FLAG_REQ_ONE
        assert payload == struct.pack(">III", 1, MiB - 5, 3)
        assert c.structured(0, 9 * MiB, MiB) == (1, 2, struct.pack(">QI", 9 * MiB, MiB))  # a hole: no data
        flags, kind, payload = c.structured(0, MiB - 100, 200)
        assert (flags, kind, payload) == (1, 1, struct.pack(">Q", MiB - 100) + model[MiB - 100 : MiB + 100])
        flags, kind, payload = c.structured(0, len(model), 1)  # past the end: an error chunk
        assert (kind, struct.unpack(">IH", payload)) == ((1 << 15) | 1, (22, 0))
        c.sock.close()

        out = subprocess.run(
            [need("qemu-img"), "map", "--output=json", "-f", "raw", export.url],
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout  # fmt: skip
        mapped = [(e["start"], e["length"]) for e in json.loads(out) if e["data"]]
        assert mapped == data_extents
        cmd = [need("nbdinfo"), "--map", export.url]
        lines = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()
        assert [tuple(map(int, line.split()[:2])) for line in lines if "data" in line] == data_extents
        fetched = reader.stats().chunks_fetched
        assert convert(export.url, tmp_path / "out.raw") == model
    # the copy fetched each data block once and no hole
    assert reader.stats().chunks_fetched - fetched <= sum(1 for c in reader.manifest.chunks if c)
    assert reader.stats().zero_chunks == 0


def test_two_clients_at_once_and_a_clean_stop(disk, tmp_path):
    repo, model = disk
    sock = tmp_path / "s"
    reader = DiskReader(repo, "s1/vda", cache_mib=4)
    export = NbdExport(reader, socket_path=sock).start()
    try:
        procs = [
            subprocess.Popen(
                [need("qemu-img"), "convert", "-f", "raw", export.url, str(tmp_path / f"o{i}.raw")]
            )
            for i in range(2)
        ]
        assert [p.wait(timeout=120) for p in procs] == [0, 0]
        assert (tmp_path / "o0.raw").read_bytes() == model == (tmp_path / "o1.raw").read_bytes()
        assert export.connections == 2
        # nbdcopy opens several connections at once (the export allows multi-conn)
        subprocess.run([need("nbdcopy"), export.url, str(tmp_path / "o3.raw")], check=True, timeout=120)
        assert (tmp_path / "o3.raw").read_bytes() == model
        assert export.connections > 3
        idle = RawClient(sock).__enter__()  # a client still connected when the server stops
    finally:
        t0 = time.monotonic()
        export.stop()
    assert time.monotonic() - t0 < 5
    assert not sock.exists()
    with pytest.raises((ConnectionError, AssertionError, OSError)):
        idle.request(0, 0, 10)
    # a socket file left by a server that died is taken over; a live one is not
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(sock))
    stale.close()
    with NbdExport(reader, socket_path=sock) as again:
        with pytest.raises(Exception, match="in use"):
            NbdExport(reader, socket_path=sock).start()
        assert convert(again.url, tmp_path / "o2.raw") == model


def test_cli_serves_until_interrupted(disk, tmp_path):
    _, model = disk
    sock = tmp_path / "cli.sock"
    for sig in (signal.SIGTERM, signal.SIGINT):
        proc = subprocess.Popen(
            [sys.executable, "-m", "t4o.vault.cli", "--repo", str(tmp_path / "repo"), "export-nbd", "s1/vda",
             "--socket", str(sock), "--cache-mib", "4"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONFAULTHANDLER": "1"},
        )  # fmt: skip
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"socket={sock}" in line, line + proc.stderr.read() if proc.poll() is not None else line
        assert convert(f"nbd+unix:///?socket={sock}", tmp_path / "cli.raw") == model
        proc.send_signal(sig)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack on stderr
            out, err = proc.communicate(timeout=30)
            pytest.fail(f"export-nbd did not stop on {sig.name}; its threads:\n{err[-8000:]}")
        assert proc.returncode == 0, err
        assert "stopped: 1 clients" in out and "chunks fetched" in out
        assert not sock.exists()


def test_s3_password_repository(s3_bucket: S3Bucket, tmp_path):
    server = s3_bucket.server
    backend = S3Backend.from_url(
        f"s3://{s3_bucket.name}/vault?endpoint={server.endpoint}",
        access_key=server.access_key, secret_key=server.secret_key, create=True,
    )  # fmt: skip
    repo = Repository.init(backend, password="pw", chunk_size=256 * 1024)
    path = write_disk(tmp_path / "disk.raw", 6, seed=13)
    model = path.read_bytes()
    m = backup_source(repo, str(path), "vda", snapshot_id="s1", workload_id="w")
    assert m.encrypted
    reader = DiskReader(repo, "s1/vda")
    rnd = random.Random(14)
    for _ in range(30):
        off = rnd.randrange(len(model))
        n = rnd.randrange(min(MiB, len(model) - off) + 1)
        assert reader.read(off, n) == model[off : off + n]
    with NbdExport(reader, socket_path=tmp_path / "s") as export:
        assert convert(export.url, tmp_path / "out.raw") == model
    assert reader.stats().chunks_fetched <= sum(1 for c in m.chunks if c)  # each chunk once at most


def test_concurrent_readers_share_the_cache(disk):
    repo, model = disk
    reader = DiskReader(repo, "s1/vda", cache_mib=64)
    results: list[bool] = []

    def whole() -> None:
        results.append(reader.read(0, len(model)) == model)

    threads = [threading.Thread(target=whole) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 3
    assert reader.stats().chunks_fetched == sum(1 for c in reader.manifest.chunks if c)


def test_a_size_off_sector_boundaries_is_padded_to_a_sector(tmp_path):
    """A disk of 9,000,000 bytes is offered as 9,000,448 (whole sectors, zeros after the end, as
    qemu-nbd does): qemu's client stalls on sizes that are not a multiple of 512."""
    path = tmp_path / "odd.raw"
    model = random.Random(15).randbytes(5_000_000) + bytes(4_000_000)
    path.write_bytes(model)
    repo = Repository.init(PosixBackend(tmp_path / "repo", fsync=False))
    backup_source(repo, str(path), "vda", snapshot_id="s1")
    with NbdExport(DiskReader(repo, "s1/vda"), socket_path=tmp_path / "s") as export:
        assert export.size == 9_000_448
        assert convert(export.url, tmp_path / "out.raw") == model + bytes(448)
        with RawClient(tmp_path / "s") as c:
            assert c.request(0, 8_999_990, 458) == (0, model[-10:] + bytes(448))
            assert c.request(0, 9_000_000, 449)[0] == 22


def test_cli_errors_are_one_line(disk, tmp_path):
    (tmp_path / "plain").write_text("")
    for ref, sock, message in (
        ("s1/nope", tmp_path / "a.sock", "no disk nope in snapshot s1"),
        ("s1/vda", tmp_path / "missing" / "a.sock", "cannot listen on"),
        ("s1/vda", tmp_path / "plain", "exists and is not a socket"),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "t4o.vault.cli", "--repo", str(tmp_path / "repo"), "export-nbd", ref,
             "--socket", str(sock)],
            capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        assert proc.returncode == 1 and proc.stderr.startswith("t4o-vault: error: ")
        assert message in proc.stderr
        assert "Traceback" not in proc.stderr
