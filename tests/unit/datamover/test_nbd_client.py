"""The NBD client against a scripted server on a socketpair (protocol framing only)."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable

import pytest

from t4o.datamover.disks import nbd
from t4o.datamover.disks.errors import NbdError

SIZE = 1 << 20
Handler = Callable[[socket.socket, int, int, int, int], None]


def recv_exact(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        assert chunk, "client closed early"
        buf += chunk
    return buf


def opt_reply(s: socket.socket, option: int, rep_type: int, data: bytes = b"") -> None:
    s.sendall(struct.pack(">QIII", nbd.OPT_REPLY_MAGIC, option, rep_type, len(data)) + data)


def chunk(cookie: int, rtype: int, payload: bytes, done: bool) -> bytes:
    flags = nbd.REPLY_FLAG_DONE if done else 0
    return struct.pack(">IHHQI", nbd.STRUCTURED_REPLY_MAGIC, flags, rtype, cookie, len(payload)) + payload


class FakeServer:
    """Handshake with meta contexts, then answers requests with ``handler(sock, cmd, cookie, off, len)``."""

    def __init__(self, handler: Handler, contexts: tuple[str, ...] = ("base:allocation",)) -> None:
        self.client_sock, self.sock = socket.socketpair()
        self.handler = handler
        self.contexts = contexts
        self.commands: list[tuple[int, int, int]] = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        # the client may hang up at any point: the test checks what it saw
        with contextlib.suppress(AssertionError):
            self.serve()

    def serve(self) -> None:
        s = self.sock
        flags = nbd.FLAG_FIXED_NEWSTYLE | nbd.FLAG_NO_ZEROES
        s.sendall(b"NBDMAGIC" + struct.pack(">QH", nbd.IHAVEOPT, flags))
        recv_exact(s, 4)
        while True:
            _, option, length = struct.unpack(">QII", recv_exact(s, 16))
            recv_exact(s, length)
            if option == nbd.OPT_STRUCTURED_REPLY:
                opt_reply(s, option, nbd.REP_ACK)
            elif option == nbd.OPT_SET_META_CONTEXT:
                for i, name in enumerate(self.contexts):
                    opt_reply(s, option, nbd.REP_META_CONTEXT, struct.pack(">I", i + 1) + name.encode())
                opt_reply(s, option, nbd.REP_ACK)
            elif option == nbd.OPT_GO:
                opt_reply(s, option, nbd.REP_INFO, struct.pack(">HQH", nbd.INFO_EXPORT, SIZE, 1))
                opt_reply(s, option, nbd.REP_ACK)
                break
        while True:
            _, _, cmd, cookie, off, length = struct.unpack(">IHHQQI", recv_exact(s, 28))
            self.commands.append((cmd, off, length))
            if cmd == nbd.CMD_DISC:
                return
            if cmd == nbd.CMD_WRITE:
                recv_exact(s, length)
            self.handler(s, cmd, cookie, off, length)

    def client(self, contexts=("base:allocation",)) -> nbd.NbdClient:
        return nbd.NbdClient(self.client_sock, "disk", contexts)


def test_read_assembles_data_and_hole_chunks() -> None:
    def handler(s, cmd, cookie, off, length):
        half = length // 2
        s.sendall(chunk(cookie, nbd.REPLY_TYPE_OFFSET_HOLE, struct.pack(">QI", off, half), False))
        s.sendall(
            chunk(cookie, nbd.REPLY_TYPE_OFFSET_DATA, struct.pack(">Q", off + half) + b"\x05" * half, True)
        )

    server = FakeServer(handler)
    with server.client() as c:
        assert c.size == SIZE and c.has_context("base:allocation")
        assert c.read(4096, 8) == bytes(4) + b"\x05" * 4
    server.thread.join(2)
    assert server.commands == [(nbd.CMD_READ, 4096, 8), (nbd.CMD_DISC, 0, 0)]


def test_extents_follow_block_status_until_the_end() -> None:
    def handler(s, cmd, cookie, off, length):
        # first answer covers half the disk; the client must ask again from there
        if off == 0:
            descs = [(4096, 0), (4096, nbd.STATE_HOLE | nbd.STATE_ZERO), (SIZE // 2 - 8192, 0)]
        else:
            descs = [(SIZE // 2, nbd.STATE_HOLE | nbd.STATE_ZERO)]
        payload = struct.pack(">I", 1) + b"".join(struct.pack(">II", n, f) for n, f in descs)
        s.sendall(chunk(cookie, nbd.REPLY_TYPE_BLOCK_STATUS, payload, True))

    server = FakeServer(handler)
    with server.client() as c:
        assert c.extents("base:allocation", nbd.STATE_ZERO, 0) == [(0, 4096), (8192, SIZE // 2 - 8192)]
    assert [(o, n) for cmd, o, n in server.commands if cmd == nbd.CMD_BLOCK_STATUS] == [
        (0, SIZE),
        (SIZE // 2, SIZE // 2),
    ]


def test_error_chunk_raises_with_the_servers_message() -> None:
    def handler(s, cmd, cookie, off, length):
        msg = b"Input/output error"
        payload = struct.pack(">IH", 5, len(msg)) + msg
        s.sendall(chunk(cookie, nbd.REPLY_TYPE_ERROR_BIT | 1, payload, True))

    server = FakeServer(handler)
    with server.client() as c, pytest.raises(NbdError, match="errno 5: Input/output error"):
        c.read(0, 512)


def test_missing_meta_context_is_refused() -> None:
    server = FakeServer(lambda *a: None, contexts=())
    with pytest.raises(NbdError, match="does not offer qemu:dirty-bitmap:backup-vda"):
        server.client(("qemu:dirty-bitmap:backup-vda",))


def test_write_and_write_zeroes_use_simple_replies() -> None:
    def handler(s, cmd, cookie, off, length):
        s.sendall(struct.pack(">IIQ", nbd.SIMPLE_REPLY_MAGIC, 0, cookie))

    server = FakeServer(handler)
    with server.client() as c:
        c.write(0, b"abc")
        c.write_zeroes(4096, 8192)  # the export does not announce WRITE_ZEROES: zeros are written
        c.flush()
    cmds = [(cmd, o, n) for cmd, o, n in server.commands if cmd != nbd.CMD_DISC]
    assert cmds == [(nbd.CMD_WRITE, 0, 3), (nbd.CMD_WRITE, 4096, 8192), (nbd.CMD_FLUSH, 0, 0)]
