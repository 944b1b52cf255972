"""Deployment-wide transfer slots around each VM's datamover transfer (snapshot and restore).

Before a VM's disks move, its transfer waits for a slot of its compute host, of the backup target and of
the deployment (``[workflows] max_transfers_per_host``, ``max_transfers_per_target``,
``max_transfers_total``); the slots live in the database, so the limits hold across every workloads
worker, and free slots go to the project with the fewest running transfers (t4o.db.transfer_slots_api).
While it waits, the VM's progress says so: "waiting for a transfer slot (host cmp1: 2 of 2 busy)".

The waiting request and the held slot are leases the worker renews; if it dies they expire.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from oslo_config import cfg

from t4o.common.log import get_logger
from t4o.datamover.client import DatamoverClient, Progress, TransferRef
from t4o.db import transfer_slots_api as slots_api
from t4o.db.models import utcnow
from t4o.db.transfer_slots_api import Limits
from t4o.workloads.flows.vm_runner import Report
from t4o.workloads.workflows import Job

LOG = get_logger(__name__)
Clock = Callable[[], dt.datetime]
POLL = 0.5  # seconds between reads of the own request's state while it waits
PASS_EVERY = 5.0  # seconds between grant passes run by a waiter (releases run one too)
REPORT_EVERY = 10.0  # seconds between progress reports of a waiting transfer


def configured_limits(conf: cfg.ConfigOpts) -> Limits:
    flows = conf.workflows
    return Limits(flows.max_transfers_per_host, flows.max_transfers_per_target, flows.max_transfers_total)


def target_key(url: str) -> str:
    """The backup target as the per-target limit counts it: its URL without credentials or query."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))[:255] or url[:255]


class TransferSlots:
    """The slots of one job's transfers: ``hold(host, say)`` around each one."""

    def __init__(
        self,
        limits: Limits,
        *,
        job_kind: str,
        job_id: str,
        project_id: str,
        worker: str,
        target: str,
        lease: float,
        poll: float = POLL,
        pass_every: float = PASS_EVERY,
        report_every: float = REPORT_EVERY,
        clock: Clock = utcnow,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limits = limits
        self.job_kind, self.job_id, self.project_id = job_kind, job_id, project_id
        self.worker, self.target, self.lease = worker, target, lease
        self.poll, self.pass_every, self.report_every = poll, pass_every, report_every
        self.clock, self.sleep = clock, sleep

    @classmethod
    def for_job(cls, job: Job, project_id: str, conf: cfg.ConfigOpts) -> TransferSlots | None:
        """The configured slots for the transfers of ``job``; None when no limit is set."""
        limits = configured_limits(conf)
        if limits.unlimited:
            return None
        return cls(
            limits, job_kind=job.kind, job_id=job.id, project_id=project_id or "", worker=job.host,
            target=target_key(str(conf.backup_target.url)), lease=float(conf.workflows.transfer_slot_lease),
        )  # fmt: skip

    @contextlib.contextmanager
    def hold(self, host: str, say: Callable[[str], None]) -> Iterator[None]:
        """Wait for a slot of ``host`` (``say`` tells the job why it waits; it may raise a cancel),
        hold it for the block, and give it back."""
        slot_id = str(uuid.uuid4())
        self._request(slot_id, host)
        try:
            self._wait(slot_id, host, say)
            with self._renewing(slot_id):
                yield
        finally:
            try:
                slots_api.release(slot_id, self.limits, self.clock())
            except Exception:  # the lease frees it anyway
                LOG.exception(
                    "%s %s: could not release transfer slot %s", self.job_kind, self.job_id, slot_id
                )

    def gate(self, dm: DatamoverClient, report: Report) -> DatamoverClient:
        """``dm`` with every transfer (``start`` to the end of its ``wait``) holding a slot."""
        return GatedDatamover(dm, self, report)

    def _request(self, slot_id: str, host: str) -> None:
        slots_api.request(
            slot_id, job_kind=self.job_kind, job_id=self.job_id, project_id=self.project_id, host=host,
            target=self.target, worker=self.worker, now=self.clock(), lease=self.lease,
        )  # fmt: skip

    def _wait(self, slot_id: str, host: str, say: Callable[[str], None]) -> None:
        begun = self.clock()
        slots_api.grant_pass(self.limits, begun)
        last_pass = last_renew = begun
        last_report: dt.datetime | None = None
        while True:
            state = slots_api.state(slot_id)
            now = self.clock()
            if state == slots_api.RUNNING:
                if last_report is not None:
                    LOG.info(
                        "%s %s: transfer slot on %s granted after %.1f s",
                        self.job_kind, self.job_id, host, (now - begun).total_seconds(),
                    )  # fmt: skip
                return
            if state is None:  # our request expired (the database was away longer than the lease)
                self._request(slot_id, host)
                last_renew = now
            elif _seconds(now - last_renew) >= self.lease / 4:
                slots_api.renew(slot_id, now, self.lease)
                last_renew = now
            if _seconds(now - last_pass) >= self.pass_every:
                last_pass = now
                if slot_id in slots_api.grant_pass(self.limits, now):
                    continue
            if last_report is None or _seconds(now - last_report) >= self.report_every:
                busy = slots_api.busy(slot_id, host, self.target, self.limits)
                message = f"waiting for a transfer slot ({busy.describe(host, self.limits)})"
                if last_report is None:
                    LOG.info("%s %s: %s", self.job_kind, self.job_id, message)
                last_report = now
                say(message)
            self.sleep(self.poll)

    @contextlib.contextmanager
    def _renewing(self, slot_id: str) -> Iterator[None]:
        """Renew the slot's lease in the background while the block runs."""
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(self.lease / 4):
                try:
                    if not slots_api.renew(slot_id, self.clock(), self.lease):
                        LOG.warning(
                            "%s %s: transfer slot %s expired while in use (database away?); the transfer "
                            "goes on outside the limits", self.job_kind, self.job_id, slot_id,
                        )  # fmt: skip
                        return
                except Exception:
                    LOG.exception("%s %s: renewing transfer slot %s", self.job_kind, self.job_id, slot_id)

        thread = threading.Thread(target=renew, name=f"slot-{slot_id[:8]}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


def _seconds(delta: dt.timedelta) -> float:
    return delta.total_seconds()


class GatedDatamover(DatamoverClient):
    """A datamover client whose transfers each hold a transfer slot from ``start`` to the end of their
    ``wait`` (the flows always wait for what they start); every other call goes to the client as is."""

    def __init__(self, inner: DatamoverClient, slots: TransferSlots, report: Report) -> None:
        # No DatamoverClient.__init__: the session and settings are the inner client's (__getattr__).
        self._inner, self._slots, self._report = inner, slots, report
        self._held: dict[str, contextlib.ExitStack] = {}
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def start(self, kind: str, server_id: str, spec: dict[str, Any]) -> TransferRef:
        host = self._inner.host_of(server_id)
        stack = contextlib.ExitStack()
        stack.enter_context(self._slots.hold(host, lambda message: self._report(0.0, message)))
        try:
            ref = self._inner.start(kind, server_id, spec)
        except BaseException:
            stack.close()
            raise
        with self._lock:
            self._held[ref.id] = stack
        return ref

    def wait(self, ref: TransferRef, on_progress: Progress | None = None) -> dict[str, Any]:
        try:
            return self._inner.wait(ref, on_progress)
        finally:
            with self._lock:
                stack = self._held.pop(ref.id, None)
            if stack is not None:
                stack.close()
