"""The plug point for the work behind a job: one workflow function per job kind.

The workloads manager claims a job, builds a :class:`Job` and calls ``get(kind)(job)``. A workflow reports
progress through ``job.progress()`` (which raises :class:`JobCancelled` once a cancel was asked, or
:class:`JobResolved` when ``reset`` took the job away) and returns the values to store on the job row
(e.g. ``size``). Raising any other exception ends the job in ``error`` with the exception's message.

Kinds: ``snapshot`` and ``restore``. A kind's workflow is the one given to :func:`register` (tests), else
the entry point ``<workflow_driver>.<kind>`` of the group ``t4o.workflows`` (the product installs
``datamover``), so another set plugs in without any change to the API or manager. Which set runs is always
the configuration's choice (:mod:`t4o.common.drivers`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from t4o.common import drivers
from t4o.common.config import CONF
from t4o.common.context import RequestContext
from t4o.db import api as db
from t4o.db import states
from t4o.openstack.cloud import Cloud

KINDS = drivers.WORKFLOW_KINDS


class JobCancelled(Exception):
    """The job was asked to stop: the workflow cleans up and lets this propagate."""


class JobResolved(Exception):
    """The job was resolved elsewhere (reset): the worker drops it without writing anything more."""


@dataclass
class Job:
    kind: str
    id: str
    context: RequestContext
    cloud: Cloud
    host: str
    values: dict[str, Any] = field(default_factory=dict)

    def row(self) -> Any:
        """The job's current database row (a Snapshot or Restore)."""
        return db.job_get(self.kind, self.id)

    def progress(self, percent: int, message: str) -> None:
        """Record progress; stop the workflow if the job was cancelled or reset meanwhile."""
        status = db.job_progress(self.kind, self.id, percent, message)
        if status == states.CANCELLING:
            raise JobCancelled(message)
        if status != states.EXECUTING:
            raise JobResolved(f"{self.kind} {self.id} is {status}")


Workflow = Callable[[Job], dict[str, Any] | None]

_LOCK = threading.Lock()
_REGISTERED: dict[str, Workflow] = {}


def register(kind: str, workflow: Workflow) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown job kind {kind!r}; expected one of {KINDS}")
    with _LOCK:
        _REGISTERED[kind] = workflow


def unregister(kind: str) -> None:
    with _LOCK:
        _REGISTERED.pop(kind, None)


def get(kind: str) -> Workflow:
    with _LOCK:
        if kind in _REGISTERED:
            return _REGISTERED[kind]
    driver = CONF.workflow_driver
    workflow: Workflow = drivers.load(
        drivers.WORKFLOWS, drivers.workflow_name(driver, kind), f"workflow_driver = {driver}"
    )
    return workflow
