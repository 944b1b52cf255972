"""Leases: acquisition, refresh, staleness by the store's clock, loss detection."""

from __future__ import annotations

import os
import threading
import time

import pytest

from t4o.vault.leases import Lease, LeaseLost, live_leases, store_now, wait_for_no_gc
from t4o.vault.posix import PosixBackend


def age(backend: PosixBackend, key: str, seconds: float) -> None:
    path = backend.root / key
    t = os.path.getmtime(path) - seconds
    os.utime(path, (t, t))


def test_store_now_leaves_nothing(tmp_path):
    b = PosixBackend(tmp_path)
    assert store_now(b).tzinfo is not None
    assert list(b.list()) == []


def test_acquire_refresh_release(tmp_path):
    b = PosixBackend(tmp_path)
    lease = Lease(b, "backup", heartbeat=0.05, snapshot="s1").acquire()
    assert live_leases(b, "backup") == [lease.key] and live_leases(b, "gc") == []
    first = b.stat(lease.key).mtime
    time.sleep(0.3)
    assert b.stat(lease.key).mtime > first  # the heartbeat rewrote it
    lease.check()
    lease.release()
    assert live_leases(b, "backup") == []


def test_stale_leases_are_ignored_and_removed(tmp_path):
    b = PosixBackend(tmp_path)
    b.put("locks/backup-dead.json", b"{}")
    age(b, "locks/backup-dead.json", 3600)
    assert live_leases(b, "backup", stale_after=600) == []
    assert not b.exists("locks/backup-dead.json")


def test_lost_lease_is_detected(tmp_path):
    b = PosixBackend(tmp_path)
    lease = Lease(b, "backup", heartbeat=3600).acquire()
    b.delete(lease.key)  # what gc does to a lease it judged stale
    with pytest.raises(LeaseLost, match="removed"):
        lease.check()
    lease.release()


def test_backup_waits_for_a_gc_lease(tmp_path):
    b = PosixBackend(tmp_path)
    gc = Lease(b, "gc", heartbeat=3600).acquire()
    done = threading.Event()
    waiter = threading.Thread(target=lambda: (wait_for_no_gc(b, poll=0.02), done.set()))
    waiter.start()
    time.sleep(0.2)
    assert not done.is_set()
    gc.release()
    waiter.join(5)
    assert done.is_set()


def test_a_stalled_lease_stays_lost_after_refreshing(tmp_path):
    b = PosixBackend(tmp_path)
    lease = Lease(b, "backup", heartbeat=0.05, stale_after=1.0).acquire()
    lease._last_ok -= 5  # as if the process had been stopped for 5 s
    time.sleep(0.3)  # the heartbeat has rewritten the lease since
    assert b.exists(lease.key)
    with pytest.raises(LeaseLost, match="not refreshed in time"):
        lease.check()
    lease.release()
