"""A read-only NBD server over a disk in the vault (or any object with ``size`` and ``read``).

``NbdExport(DiskReader(repo, "SNAP/vda"), socket_path=...)`` serves the disk to any NBD client
(``qemu-img``, ``qemu-io``, ``nbdcopy``, ``nbdfuse``, ``guestfish --format=raw -a nbd://...``) without
restoring it: each read fetches only the chunks it covers. The protocol is the fixed newstyle
handshake of the NBD specification (NetworkBlockDevice/nbd, doc/proto.md):

- options: NBD_OPT_EXPORT_NAME, NBD_OPT_INFO, NBD_OPT_GO, NBD_OPT_LIST, NBD_OPT_ABORT,
  NBD_OPT_STRUCTURED_REPLY and NBD_OPT_LIST/SET_META_CONTEXT with the one context ``base:allocation``;
  any other option (TLS, extended headers) is answered NBD_REP_ERR_UNSUP;
- commands: NBD_CMD_READ, NBD_CMD_FLUSH (nothing to flush), NBD_CMD_DISC and, once
  ``base:allocation`` is selected, NBD_CMD_BLOCK_STATUS; writes, trims and write-zeroes are refused
  with EPERM (the export says it is read-only), anything else with EINVAL.

With structured replies a read answers in one chunk, and a range that is all zero blocks as a hole
(no data sent); block status maps the disk from the manifest (the blocks without a chunk are holes),
so ``qemu-img convert`` or ``nbdcopy`` copy only the blocks that hold data.

It listens on a unix socket (mode 0600, removed when the server stops) or on a TCP port of 127.0.0.1
only. Each client has its own thread reading its requests; reads run on a shared pool of ``workers``
threads and their replies go out as they finish (the protocol allows any order: each names its
request's cookie), so a client that keeps several reads in flight (qemu-img keeps up to 8) is served
in parallel. ``stop()`` closes every connection and the socket.
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import itertools
import logging
import os
import socket
import stat
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from t4o.vault.errors import InvalidArgument, VaultError

LOG = logging.getLogger(__name__)

NBDMAGIC = 0x4E42444D41474943  # "NBDMAGIC"
IHAVEOPT = 0x49484156454F5054  # "IHAVEOPT"
OPT_REPLY_MAGIC = 0x0003E889045565A9
REQUEST_MAGIC = 0x25609513
SIMPLE_REPLY_MAGIC = 0x67446698

# handshake flags (server) and client flags
FLAG_FIXED_NEWSTYLE = 1 << 0
FLAG_NO_ZEROES = 1 << 1
# transmission flags
FLAG_HAS_FLAGS = 1 << 0
FLAG_READ_ONLY = 1 << 1
FLAG_SEND_FLUSH = 1 << 2
FLAG_CAN_MULTI_CONN = 1 << 8
TRANSMISSION_FLAGS = FLAG_HAS_FLAGS | FLAG_READ_ONLY | FLAG_SEND_FLUSH | FLAG_CAN_MULTI_CONN

OPT_EXPORT_NAME = 1
OPT_ABORT = 2
OPT_LIST = 3
OPT_INFO = 6
OPT_GO = 7
OPT_STRUCTURED_REPLY = 8
OPT_LIST_META_CONTEXT = 9
OPT_SET_META_CONTEXT = 10

REP_ACK = 1
REP_SERVER = 2
REP_INFO = 3
REP_META_CONTEXT = 4
REP_ERR_UNSUP = (1 << 31) | 1
REP_ERR_INVALID = (1 << 31) | 3
REP_ERR_UNKNOWN = (1 << 31) | 6

INFO_EXPORT = 0
INFO_BLOCK_SIZE = 3

CMD_READ = 0
CMD_WRITE = 1
CMD_DISC = 2
CMD_FLUSH = 3
CMD_TRIM = 4
CMD_WRITE_ZEROES = 6
CMD_BLOCK_STATUS = 7
CMD_FLAG_REQ_ONE = 1 << 3

STRUCTURED_REPLY_MAGIC = 0x668E33EF
REPLY_FLAG_DONE = 1
REPLY_TYPE_OFFSET_DATA = 1
REPLY_TYPE_OFFSET_HOLE = 2
REPLY_TYPE_BLOCK_STATUS = 5
REPLY_TYPE_ERROR = (1 << 15) | 1
STATE_HOLE = 1
STATE_ZERO = 2
BASE_ALLOCATION = b"base:allocation"
BASE_ALLOCATION_ID = 1

SECTOR = 512
MAX_OPTION_DATA = 64 * 1024
MAX_REQUEST = 32 * 1024 * 1024  # the largest read or write payload accepted (qemu sends up to 32 MiB)
MAX_IN_FLIGHT = 16  # reads queued per client before its requests are no longer read
_REQUEST = struct.Struct(">IHHQQI")
_REPLY = struct.Struct(">IIQ")
_OPTION = struct.Struct(">QII")
_OPTION_REPLY = struct.Struct(">QIII")
_CHUNK = struct.Struct(">IHHQI")


@dataclass
class _Session:
    """What one client negotiated."""

    structured: bool = False  # NBD_OPT_STRUCTURED_REPLY: reads answered in chunks, holes as holes
    allocation: bool = False  # base:allocation selected: NBD_CMD_BLOCK_STATUS allowed


class BlockReader(Protocol):
    size: int

    def read(self, offset: int, length: int) -> bytes: ...


class _Closed(Exception):
    """The client went away or broke the protocol: drop the connection."""


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = conn.recv_into(view[got:], n - got)
        if k == 0:
            raise _Closed("connection closed by the client")
        got += k
    return bytes(buf)


def _discard(conn: socket.socket, n: int) -> None:
    while n > 0:
        k = len(conn.recv(min(n, 1 << 20)))
        if k == 0:
            raise _Closed("connection closed by the client")
        n -= k


class NbdExport:
    """Serve ``reader`` read-only over NBD on ``socket_path`` (a unix socket) or, without one, on
    ``127.0.0.1:port`` (0 picks a free port). ``name`` is the export's name; the default export
    (an empty name) is the same disk. Use as a context manager, or ``start()`` and ``stop()``."""

    def __init__(
        self,
        reader: BlockReader,
        *,
        socket_path: str | os.PathLike[str] | None = None,
        port: int | None = None,
        name: str = "",
        workers: int = 4,
    ):
        if socket_path is None and port is None:
            raise InvalidArgument("an NBD export needs a unix socket path or a port")
        self.reader = reader
        # The size offered is rounded up to whole 512-byte sectors, the tail read as zeros, as qemu-nbd
        # does: qemu's own NBD client (7.2) stalls on a disk whose size is not a multiple of 512.
        self.size = -(-reader.size // SECTOR) * SECTOR
        # where the disk may hold data (a DiskReader knows: the blocks with a chunk); all of it otherwise
        get_extents = getattr(reader, "data_extents", None)
        self._extent_list = list(get_extents()) if callable(get_extents) else [(0, reader.size)]
        self._extent_starts = [start for start, _ in self._extent_list]
        self.name = name
        self.socket_path = os.fspath(socket_path) if socket_path is not None else None
        self.port = port
        self.workers = workers
        self._listener: socket.socket | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._stopping = threading.Event()
        self._stop_asked = False  # set by stop_soon, from a signal handler
        self._lock = threading.Lock()
        self._clients: dict[socket.socket, threading.Thread] = {}
        self._accept_thread: threading.Thread | None = None
        self.connections = 0  # clients served since start (for logs and tests)
        # wall-clock time (time.time()) of the last read request of any client: how long it sat idle
        self.last_read_at: float | None = None

    # -- lifetime ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The address for qemu and libnbd clients."""
        if self.socket_path is not None:
            return f"nbd+unix:///{self.name}?socket={self.socket_path}"
        return f"nbd://127.0.0.1:{self.port}/{self.name}"

    def __enter__(self) -> NbdExport:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> NbdExport:
        if self.socket_path is not None:
            self._listener = self._bind_unix(self.socket_path)
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", self.port or 0))
            except OSError as exc:
                sock.close()
                raise InvalidArgument(f"cannot listen on 127.0.0.1:{self.port}: {exc.strerror}") from None
            self.port = sock.getsockname()[1]
            self._listener = sock
        self._listener.listen(16)
        self._listener.settimeout(0.2)
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="nbd-read")
        self._accept_thread = threading.Thread(target=self._accept_loop, name="nbd-accept", daemon=True)
        self._accept_thread.start()
        LOG.info("serving %r read-only over NBD at %s", self.reader, self.url)
        return self

    @staticmethod
    def _bind_unix(path: str) -> socket.socket:
        if os.path.lexists(path):
            if not stat.S_ISSOCK(os.lstat(path).st_mode):
                raise InvalidArgument(f"{path} exists and is not a socket")
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(path)
            except OSError:  # nobody listens there: a socket left by a process that died
                os.unlink(path)
            else:
                raise InvalidArgument(f"{path} is in use by another server")
            finally:
                probe.close()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(path)
            os.chmod(path, 0o600)  # before listen(): nobody else can connect in between
        except OSError as exc:
            sock.close()
            raise InvalidArgument(f"cannot listen on {path}: {exc.strerror}") from None
        return sock

    def serve_forever(self) -> None:
        """Block until ``stop()`` or ``stop_soon()`` is called (another thread, a signal handler)."""
        while not (self._stop_asked or self._stopping.is_set()):
            time.sleep(0.1)  # interruptible by Ctrl-C

    def stop_soon(self) -> None:
        """Make ``serve_forever`` return; its caller then calls ``stop``. Safe in a signal handler: a
        plain assignment. (Event.set takes a lock that the interrupted main thread may hold inside
        Event.wait, which deadlocked an export told to stop by SIGTERM.)"""
        self._stop_asked = True

    def stop(self) -> None:
        """Close the socket and every connection; wait for the client threads; remove the socket."""
        self._stopping.set()
        if self._listener is not None and self._accept_thread is not None:
            self._wake_accept()
        if self._accept_thread is not None:
            self._accept_thread.join()
            self._accept_thread = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
            if self.socket_path is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.socket_path)
        with self._lock:
            clients = list(self._clients.items())
        for conn, _ in clients:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for _, thread in clients:
            thread.join()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        LOG.info("stopped the NBD export of %r at %s", self.reader, self.url)

    def _wake_accept(self) -> None:
        """A connection of our own, so the accept loop sees the stop at once, not at its next poll."""
        family = socket.AF_UNIX if self.socket_path is not None else socket.AF_INET
        address: Any = self.socket_path if self.socket_path is not None else ("127.0.0.1", self.port)
        with contextlib.suppress(OSError), socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.settimeout(0.5)
            probe.connect(address)

    # -- connections ---------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError as exc:  # out of file descriptors, say: refuse this one, keep serving
                if self._stopping.is_set():
                    return
                LOG.error("NBD export of %r cannot accept a client: %s", self.reader, exc)
                self._stopping.wait(0.2)
                continue
            if self._stopping.is_set():  # the stop's own wake-up, or a client arriving too late
                conn.close()
                return
            conn.settimeout(None)
            thread = threading.Thread(target=self._serve_client, args=(conn,), name="nbd-client", daemon=True)
            with self._lock:
                self._clients[conn] = thread
                self.connections += 1
            thread.start()

    def _serve_client(self, conn: socket.socket) -> None:
        try:
            session = self._handshake(conn)
            if session is not None:
                self._transmission(conn, session)
        except (_Closed, OSError) as exc:
            if not self._stopping.is_set():
                LOG.info("NBD client of %r left: %s", self.reader, exc)
        except Exception:
            LOG.exception("NBD client of %r failed", self.reader)
        finally:
            with self._lock:
                self._clients.pop(conn, None)
            conn.close()

    def _read(self, offset: int, length: int) -> bytes:
        inside = max(0, min(length, self.reader.size - offset))
        data = self.reader.read(offset, inside) if inside else b""
        return data + bytes(length - inside) if inside < length else data

    def _knows(self, name: str) -> bool:
        return name in ("", self.name)

    def _handshake(self, conn: socket.socket) -> _Session | None:
        """The option phase: what the client negotiated, or None when it does not go on."""
        conn.sendall(struct.pack(">QQH", NBDMAGIC, IHAVEOPT, FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES))
        (client_flags,) = struct.unpack(">I", _recv_exact(conn, 4))
        if client_flags & ~(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES):
            raise _Closed(f"unknown client flags {client_flags:#x}")
        no_zeroes = bool(client_flags & FLAG_NO_ZEROES)
        session = _Session()

        def reply(opt: int, kind: int, data: bytes = b"") -> None:
            conn.sendall(_OPTION_REPLY.pack(OPT_REPLY_MAGIC, opt, kind, len(data)) + data)

        while True:
            magic, opt, length = _OPTION.unpack(_recv_exact(conn, _OPTION.size))
            if magic != IHAVEOPT:
                raise _Closed("bad option magic")
            if length > MAX_OPTION_DATA:
                raise _Closed(f"option {opt} with {length} bytes of data")
            data = _recv_exact(conn, length)
            if opt == OPT_EXPORT_NAME:
                if not self._knows(data.decode("utf-8", "replace")):
                    raise _Closed("unknown export name")  # the protocol has no error reply here
                conn.sendall(
                    struct.pack(">QH", self.size, TRANSMISSION_FLAGS) + (b"" if no_zeroes else bytes(124))
                )
                return session
            if opt == OPT_ABORT:
                reply(opt, REP_ACK)
                return None
            if opt == OPT_LIST:
                if data:
                    reply(opt, REP_ERR_INVALID)
                    continue
                name = self.name.encode()
                reply(opt, REP_SERVER, struct.pack(">I", len(name)) + name)
                reply(opt, REP_ACK)
            elif opt in (OPT_INFO, OPT_GO):
                if len(data) < 6:
                    reply(opt, REP_ERR_INVALID)
                    continue
                (name_len,) = struct.unpack_from(">I", data)
                if 4 + name_len + 2 > len(data):
                    reply(opt, REP_ERR_INVALID)
                    continue
                name = data[4 : 4 + name_len]
                (n_info,) = struct.unpack_from(">H", data, 4 + name_len)
                if len(data) != 4 + name_len + 2 + 2 * n_info:
                    reply(opt, REP_ERR_INVALID)
                    continue
                infos = struct.unpack_from(f">{n_info}H", data, 6 + name_len)
                if not self._knows(name.decode("utf-8", "replace")):
                    reply(opt, REP_ERR_UNKNOWN)
                    continue
                reply(opt, REP_INFO, struct.pack(">HQH", INFO_EXPORT, self.size, TRANSMISSION_FLAGS))
                if INFO_BLOCK_SIZE in infos:
                    reply(opt, REP_INFO, struct.pack(">HIII", INFO_BLOCK_SIZE, 1, 4096, MAX_REQUEST))
                reply(opt, REP_ACK)
                if opt == OPT_GO:
                    return session
            elif opt == OPT_STRUCTURED_REPLY:
                if data:
                    reply(opt, REP_ERR_INVALID)
                    continue
                session.structured = True
                reply(opt, REP_ACK)
            elif opt in (OPT_LIST_META_CONTEXT, OPT_SET_META_CONTEXT):
                queries = self._meta_queries(data)
                if queries is None or not session.structured:
                    reply(opt, REP_ERR_INVALID)
                    continue
                export, wanted = queries
                if not self._knows(export):
                    reply(opt, REP_ERR_UNKNOWN)
                    continue
                # base:allocation is the only context: asked by name, by "base:" or (a list) by nothing
                chosen = any(q in (BASE_ALLOCATION, b"base:") for q in wanted) or (
                    opt == OPT_LIST_META_CONTEXT and not wanted
                )
                if opt == OPT_SET_META_CONTEXT:
                    session.allocation = chosen
                if chosen:
                    context_id = BASE_ALLOCATION_ID if opt == OPT_SET_META_CONTEXT else 0
                    reply(opt, REP_META_CONTEXT, struct.pack(">I", context_id) + BASE_ALLOCATION)
                reply(opt, REP_ACK)
            else:
                reply(opt, REP_ERR_UNSUP)

    @staticmethod
    def _meta_queries(data: bytes) -> tuple[str, list[bytes]] | None:
        """Export name and queries of a meta context option, or None when malformed."""
        try:
            (n,) = struct.unpack_from(">I", data)
            name = data[4 : 4 + n]
            pos = 4 + n
            (count,) = struct.unpack_from(">I", data, pos)
            pos += 4
            queries = []
            for _ in range(count):
                (k,) = struct.unpack_from(">I", data, pos)
                queries.append(data[pos + 4 : pos + 4 + k])
                pos += 4 + k
        except struct.error:
            return None
        if pos != len(data) or len(name) != n:
            return None
        return name.decode("utf-8", "replace"), queries

    def _extents(self, offset: int, length: int) -> list[tuple[int, int]]:
        """base:allocation descriptors (length, flags) covering ``offset``..``offset + length``:
        the disk's data extents as data, the rest (and the padding after its end) as holes of zeros."""
        end = offset + length
        out: list[tuple[int, int]] = []
        pos = offset
        k = max(0, bisect.bisect_right(self._extent_starts, offset) - 1)
        for start, n in itertools.islice(self._extent_list, k, None):
            if start + n <= pos:
                continue
            if start >= end:
                break
            if start > pos:
                out.append((start - pos, STATE_HOLE | STATE_ZERO))
                pos = start
            stop = min(start + n, end)
            out.append((stop - pos, 0))
            pos = stop
        if pos < end:
            out.append((end - pos, STATE_HOLE | STATE_ZERO))
        return out

    def _all_zero(self, offset: int, length: int) -> bool:
        extents = self._extents(offset, length)
        return len(extents) == 1 and extents[0][1] != 0

    def _transmission(self, conn: socket.socket, session: _Session) -> None:
        send_lock = threading.Lock()
        slots = threading.BoundedSemaphore(MAX_IN_FLIGHT)
        pool = self._pool
        assert pool is not None

        def answer(cookie: int, error: int, data: bytes = b"") -> None:
            with send_lock:
                conn.sendall(_REPLY.pack(SIMPLE_REPLY_MAGIC, error, cookie))
                if data:
                    conn.sendall(data)

        def chunk(cookie: int, kind: int, payload: bytes, data: bytes = b"") -> None:
            """One structured reply chunk, the last one of its request."""
            head = _CHUNK.pack(
                STRUCTURED_REPLY_MAGIC, REPLY_FLAG_DONE, kind, cookie, len(payload) + len(data)
            )
            with send_lock:
                conn.sendall(head + payload)
                if data:
                    conn.sendall(data)

        def fail(cookie: int, error: int) -> None:
            """An error answer: a simple reply, or an error chunk once structured replies are on."""
            if session.structured:
                chunk(cookie, REPLY_TYPE_ERROR, struct.pack(">IH", error, 0))
            else:
                answer(cookie, error)

        def read(cookie: int, offset: int, length: int) -> None:
            try:
                try:
                    if session.structured and length and self._all_zero(offset, length):
                        chunk(cookie, REPLY_TYPE_OFFSET_HOLE, struct.pack(">QI", offset, length))
                        return
                    data = self._read(offset, length)
                except VaultError as exc:
                    LOG.error("NBD read %d+%d of %r failed: %s", offset, length, self.reader, exc)
                    fail(cookie, errno.EIO)
                else:
                    if session.structured:
                        chunk(cookie, REPLY_TYPE_OFFSET_DATA, struct.pack(">Q", offset), data)
                    else:
                        answer(cookie, 0, data)
            except OSError:
                pass  # the client went away; its thread notices
            except Exception:
                LOG.exception("NBD read %d+%d of %r failed", offset, length, self.reader)
                with contextlib.suppress(OSError):
                    fail(cookie, errno.EIO)
            finally:
                slots.release()

        try:
            while True:
                magic, flags, kind, cookie, offset, length = _REQUEST.unpack(_recv_exact(conn, _REQUEST.size))
                if magic != REQUEST_MAGIC:
                    raise _Closed("bad request magic")
                if kind == CMD_READ:
                    self.last_read_at = time.time()
                    if offset + length > self.size:
                        fail(cookie, errno.EINVAL)
                    elif length > MAX_REQUEST:
                        fail(cookie, errno.EOVERFLOW)
                    else:
                        slots.acquire()
                        pool.submit(read, cookie, offset, length)
                elif kind == CMD_DISC:
                    return
                elif kind == CMD_FLUSH:
                    answer(cookie, 0)
                elif kind == CMD_WRITE:
                    if length > MAX_REQUEST:
                        raise _Closed(f"write of {length} bytes")
                    _discard(conn, length)
                    answer(cookie, errno.EPERM)
                elif kind in (CMD_TRIM, CMD_WRITE_ZEROES):
                    answer(cookie, errno.EPERM)
                elif kind == CMD_BLOCK_STATUS and session.allocation:
                    if offset + length > self.size or length == 0:
                        fail(cookie, errno.EINVAL)
                        continue
                    extents = self._extents(offset, length)
                    if flags & CMD_FLAG_REQ_ONE:
                        extents = extents[:1]
                    payload = struct.pack(">I", BASE_ALLOCATION_ID) + b"".join(
                        struct.pack(">II", n, f) for n, f in extents
                    )
                    chunk(cookie, REPLY_TYPE_BLOCK_STATUS, payload)
                else:
                    answer(cookie, errno.EINVAL)
        finally:
            for _ in range(MAX_IN_FLIGHT):  # let the reads under way answer before the socket closes
                slots.acquire()
