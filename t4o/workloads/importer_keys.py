"""Import of encrypted workloads: their documents are sealed with the workload's own key.

The key object on the target (``keys/<workload_id>``) names, in clear, the Barbican secret that wraps
it; import reads that secret as the importing user and unlocks the key, once per workload however many
of its documents are read at the same time. A workload whose secret cannot be read (gone, or not
readable by the importing user) is reported with the reason, naming the secret, and is not imported.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from t4o.common import errors
from t4o.common.context import RequestContext
from t4o.vault import ObjectNotFound, Repository, WorkloadKeyError
from t4o.workloads import encryption

# Unlocks a workload's key on a target as the caller; returns the reference of the secret that wraps it.
UnlockFn = Callable[[Repository, str, RequestContext], str]


@dataclass(frozen=True)
class Locked:
    """A document sealed with the key of ``workload_id``, which could not be unlocked (``reason``)."""

    workload_id: str
    reason: str


class Unlocker:
    """The keys of one target's encrypted workloads, each unlocked at most once, by the first reader."""

    def __init__(self, repo: Repository, ctx: RequestContext | None, unlock: UnlockFn | None = None) -> None:
        self.repo = repo
        self.ctx = ctx
        self._unlock = unlock or encryption.unlock_stored
        self.refs: dict[str, str] = {}  # unlocked: the secret that wraps the key
        self.failed: dict[str, str] = {}  # could not be: why
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self.only: set[str] | None = None  # the workloads a call is about: no secret read for others

    def __call__(self, workload_id: str) -> str | None:
        """None once the workload's key is unlocked, else why it cannot be."""
        if self.only is not None and workload_id not in self.only:
            return f"workload {workload_id} was not asked for"
        with self._guard:
            lock = self._locks.setdefault(workload_id, threading.Lock())
        with lock:
            if workload_id not in self.refs and workload_id not in self.failed:
                if self.ctx is None:
                    self.failed[workload_id] = (
                        f"workload {workload_id} is encrypted with its own key, and no user is at hand to "
                        "read its secret"
                    )
                else:
                    try:
                        self.refs[workload_id] = self._unlock(self.repo, workload_id, self.ctx)
                    except errors.T4OError as exc:
                        self.failed[workload_id] = str(exc)
            return self.failed.get(workload_id)


def read_doc(repo: Repository, key: str, unlocker: Unlocker | None) -> dict[str, Any] | Locked | None:
    """The document at ``key``; None when it is gone; Locked when it is sealed with a workload's key that
    cannot be unlocked."""
    try:
        return repo.get_doc(key)
    except ObjectNotFound:
        return None
    except WorkloadKeyError as exc:
        reason = unlocker(exc.workload_id) if unlocker is not None else str(exc)
        if reason is not None:
            return Locked(exc.workload_id, reason)
    try:
        return repo.get_doc(key)
    except ObjectNotFound:
        return None
    except WorkloadKeyError as exc:  # sealed with another workload's key than the first one named
        return Locked(exc.workload_id, str(exc))
