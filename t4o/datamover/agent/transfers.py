"""Transfers an agent runs: a thread each, bounded in number, with byte progress and a cancel flag.

A transfer lives in the agent's memory only. If the agent dies, its transfers are gone with it, and
datamover-api reports the agent unreachable (or the transfer unknown after a restart): the caller fails
the job rather than waiting for work that no longer runs.

The other way round, a transfer whose job died (its workloads worker killed) has nobody reading its
status any more: after ``unwatched_timeout`` seconds without a status read the agent cancels it, so
it stops moving data for a snapshot that will never be recorded and cleans up as a cancel does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from t4o.common.log import get_logger

LOG = get_logger(__name__)

QUEUED, RUNNING, DONE, ERROR, CANCELLED = "queued", "running", "done", "error", "cancelled"
FINISHED = (DONE, ERROR, CANCELLED)
KEEP_FINISHED = 3600.0  # seconds a finished transfer's result stays readable


class TransferCancelled(Exception):
    """Raised inside a transfer's work once a cancel was asked."""


@dataclass
class Transfer:
    id: str
    kind: str
    status: str = QUEUED
    bytes_done: int = 0
    bytes_total: int = 0
    message: str = "Queued"
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    watched: float = field(default_factory=time.monotonic)  # the last read of its status
    _cancel: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # called by the work, from any of its threads
    def add_bytes(self, n: int) -> None:
        with self._lock:
            self.bytes_done += n
        self.check()

    def add_total(self, n: int) -> None:
        with self._lock:
            self.bytes_total += n

    def say(self, message: str) -> None:
        self.message = message
        self.check()

    def check(self) -> None:
        if self._cancel.is_set():
            raise TransferCancelled(f"transfer {self.id} was cancelled")

    def cancel(self, reason: str = "Cancelled") -> None:
        self.message = reason
        self._cancel.set()

    def view(self) -> dict[str, Any]:
        elapsed = (self.finished or time.monotonic()) - self.started
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "bytes_done": self.bytes_done,
            "bytes_total": self.bytes_total,
            "rate": round(self.bytes_done / elapsed) if elapsed > 0 else 0,
            "elapsed": round(elapsed, 3),
            "message": self.message,
            "result": self.result,
            "error": self.error,
        }


Work = Callable[[Transfer], dict[str, Any]]


class TransferRegistry:
    def __init__(self, max_running: int, unwatched_timeout: float = 0.0) -> None:
        self._slots = threading.BoundedSemaphore(max_running)
        self._transfers: dict[str, Transfer] = {}
        self._lock = threading.Lock()
        self.unwatched_timeout = unwatched_timeout  # 0: never cancel an unwatched transfer
        self._watchdog: threading.Thread | None = None

    def start(self, transfer_id: str, kind: str, work: Work) -> Transfer:
        with self._lock:
            self._forget_old()
            if transfer_id in self._transfers:
                return self._transfers[transfer_id]  # a retried request: the same transfer
            transfer = Transfer(transfer_id, kind)
            self._transfers[transfer_id] = transfer
        thread = threading.Thread(
            target=self._run, args=(transfer, work), name=f"transfer-{transfer_id[:8]}", daemon=True
        )
        thread.start()
        self._start_watchdog()
        return transfer

    def _start_watchdog(self) -> None:
        with self._lock:
            if self.unwatched_timeout <= 0 or (self._watchdog is not None and self._watchdog.is_alive()):
                return
            self._watchdog = threading.Thread(target=self._watch, name="transfer-watchdog", daemon=True)
            self._watchdog.start()

    def _watch(self) -> None:
        period = min(max(self.unwatched_timeout / 4, 0.05), 5.0)
        while self.running():
            time.sleep(period)
            self.cancel_unwatched()

    def cancel_unwatched(self, now: float | None = None) -> list[str]:
        """Cancels the unfinished transfers nobody read for ``unwatched_timeout`` s; their ids."""
        now = time.monotonic() if now is None else now
        dropped = []
        for transfer in self.running():
            idle = now - transfer.watched
            if (
                self.unwatched_timeout > 0
                and idle >= self.unwatched_timeout
                and not transfer._cancel.is_set()
            ):
                transfer.cancel(
                    f"Cancelled: nobody read its status for {idle:.0f} s (the job that started it stopped)"
                )
                LOG.warning(
                    "%s transfer %s cancelled: its status was not read for %.0f s; the job that "
                    "started it is gone",
                    transfer.kind,
                    transfer.id,
                    idle,
                )
                dropped.append(transfer.id)
        return dropped

    def _run(self, transfer: Transfer, work: Work) -> None:
        with self._slots:
            if transfer._cancel.is_set():
                transfer.status, transfer.message = CANCELLED, "Cancelled before it started"
                transfer.finished = time.monotonic()
                return
            transfer.status, transfer.message, transfer.started = RUNNING, "Started", time.monotonic()
            try:
                transfer.result = work(transfer)
                transfer.status, transfer.message = DONE, "Completed"
            except TransferCancelled:
                transfer.status = CANCELLED
                LOG.info("%s transfer %s cancelled: %s", transfer.kind, transfer.id, transfer.message)
            except Exception as exc:
                LOG.exception("%s transfer %s failed", transfer.kind, transfer.id)
                transfer.status, transfer.error = ERROR, str(exc) or type(exc).__name__
                transfer.message = "Failed"
            finally:
                transfer.finished = time.monotonic()

    def get(self, transfer_id: str) -> Transfer | None:
        """The transfer; a read by its job, which keeps it watched."""
        with self._lock:
            transfer = self._transfers.get(transfer_id)
            if transfer is not None:
                transfer.watched = time.monotonic()
            return transfer

    def running(self) -> list[Transfer]:
        with self._lock:
            return [t for t in self._transfers.values() if t.status not in FINISHED]

    def _forget_old(self) -> None:
        now = time.monotonic()
        for tid in [
            t.id for t in self._transfers.values() if t.finished and now - t.finished > KEEP_FINISHED
        ]:
            del self._transfers[tid]
