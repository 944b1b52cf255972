"""Leases under ``locks/``: how backups and garbage collection stay out of each other's way.

A lease is a small JSON object (``locks/<kind>-<id>.json``) that its holder re-writes every
``heartbeat`` seconds. Its age is judged by the object's mtime against the store's own clock (the mtime
of an object just written by the reader), so clocks of different hosts do not matter. A lease not
refreshed for ``stale_after`` seconds belongs to a crashed process: it is ignored and removed, so a
crash never blocks gc forever.

Exclusion between gc sweeps and the short commit phase of a backup (see gc.py and commit.py) is
Dekker-style: each side writes its own lease first and then looks for the other's. Whatever the
interleaving, at least one of them sees the other: a backup that sees a gc lease waits for the sweep
to end; a gc that sees a live commit lease does not sweep.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import secrets
import socket
import threading
import time

from t4o.vault.backend import Backend, BackendError, ObjectNotFound
from t4o.vault.errors import VaultError

LOG = logging.getLogger(__name__)
PREFIX = "locks/"
HEARTBEAT = 30.0
STALE_AFTER = 600.0


class LeaseLost(VaultError):
    """This process's lease expired or was removed; its work must not be committed."""


def store_now(backend: Backend) -> dt.datetime:
    """The store's current time: the mtime of an object written right now."""
    key = f"{PREFIX}clock-{secrets.token_hex(6)}"
    backend.put(key, b"")
    try:
        return backend.stat(key).mtime
    finally:
        backend.delete(key)


class Lease:
    def __init__(
        self,
        backend: Backend,
        kind: str,
        heartbeat: float = HEARTBEAT,
        stale_after: float = STALE_AFTER,
        **info: object,
    ):
        self.backend, self.kind = backend, kind
        self.id = secrets.token_hex(8)
        self.key = f"{PREFIX}{kind}-{self.id}.json"
        self.heartbeat, self.stale_after = heartbeat, stale_after
        self._body = json.dumps(
            {"kind": kind, "id": self.id, "host": socket.gethostname(), "pid": os.getpid(), **info}
        ).encode()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_ok = 0.0
        self._lost = False
        self.started: dt.datetime | None = None

    def acquire(self) -> Lease:
        self.backend.put(self.key, self._body)
        self._last_ok = time.monotonic()
        self.started = self.backend.stat(self.key).mtime
        # Record the start by the store's clock in the body, for gc's cutoff (lease_starts).
        doc = json.loads(self._body)
        doc["started"] = self.started.isoformat()
        self._body = json.dumps(doc).encode()
        self.backend.put(self.key, self._body)
        self._thread = threading.Thread(target=self._beat, name=f"lease-{self.kind}", daemon=True)
        self._thread.start()
        return self

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat):
            if time.monotonic() - self._last_ok > self.stale_after * 0.8:
                # We were stalled (paused, suspended, a hung mount) long enough to look dead: another
                # process may have acted on that, so refreshing now must not make the lease look valid.
                self._lost = True
            try:
                self.backend.put(self.key, self._body)
                self._last_ok = time.monotonic()
            except BackendError as exc:
                LOG.warning("could not refresh lease %s: %s", self.key, exc)

    def check(self) -> None:
        """Raise LeaseLost when the lease may have been judged stale by another process."""
        if self._lost or time.monotonic() - self._last_ok > self.stale_after * 0.8:
            raise LeaseLost(f"lease {self.key} was not refreshed in time; the work is abandoned")
        if not self.backend.exists(self.key):
            raise LeaseLost(f"lease {self.key} was removed (judged stale); the work is abandoned")

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            self.backend.delete(self.key)
        except BackendError as exc:
            LOG.warning("could not remove lease %s: %s", self.key, exc)

    def __enter__(self) -> Lease:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def live_leases(
    backend: Backend,
    kind: str,
    stale_after: float = STALE_AFTER,
    exclude: str | None = None,
    remove_stale: bool = True,
    now: dt.datetime | None = None,
) -> list[str]:
    """Keys of live leases of ``kind``; stale ones are removed on the way unless ``remove_stale`` is
    False (a dry run changes nothing). ``now`` is the store's time, measured here when not given."""
    now = store_now(backend) if now is None else now
    live = []
    for info in backend.list(f"{PREFIX}{kind}-"):
        if info.key == exclude:
            continue
        age = (now - info.mtime).total_seconds()
        if age > stale_after:
            if remove_stale:
                LOG.warning("removing stale lease %s (not refreshed for %.0f s)", info.key, age)
                with contextlib.suppress(BackendError, ObjectNotFound):
                    backend.delete(info.key)
            continue
        live.append(info.key)
    return live


def lease_starts(
    backend: Backend,
    kind: str,
    stale_after: float = STALE_AFTER,
    remove_stale: bool = True,
    now: dt.datetime | None = None,
) -> list[dt.datetime]:
    """Start times (store clock) of the live leases of ``kind``."""
    starts = []
    for key in live_leases(backend, kind, stale_after, remove_stale=remove_stale, now=now):
        try:
            starts.append(dt.datetime.fromisoformat(json.loads(backend.get(key))["started"]))
        except (ObjectNotFound, KeyError, ValueError):
            continue  # released meanwhile, or not yet stamped (then it started just now)
    return starts


def wait_for_no_gc(backend: Backend, stale_after: float = STALE_AFTER, poll: float = 0.5) -> None:
    """Block while a gc sweep holds its lease (a stale one expires by itself)."""
    waited = False
    while live_leases(backend, "gc", stale_after):
        if not waited:
            LOG.info("waiting for garbage collection to finish its sweep")
            waited = True
        time.sleep(poll)
