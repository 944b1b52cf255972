"""t4o.workloads.api delete semantics on a real SQLite database: database_only vs a full delete's purge."""

from __future__ import annotations

from typing import Any

import pytest

from t4o.common import errors
from t4o.common.context import RequestContext
from t4o.db import api as db
from t4o.db import states
from t4o.workloads import api as workloads_api

SERIAL = "f82ce76f-17fe-438b-aa37-7a023058e50d"


@pytest.fixture
def setup(t4o_conf: Any) -> Any:
    ctx = RequestContext(user_id="u1", project_id="p1", roles=["member"])
    wl = db.workload_create(
        {"project_id": "p1", "workload_type_id": SERIAL, "status": states.AVAILABLE}, [{"vm_id": "vm-1"}]
    )
    snap = db.snapshot_create(wl.id, "p1", {"name": "s"})
    db.job_claim("snapshot", snap.id, "h")
    db.job_finish("snapshot", snap.id, states.AVAILABLE)
    calls: list[tuple[str, list[str]]] = []
    workloads_api.register_purge(lambda _ctx, wid, snaps: calls.append((wid, snaps)))
    yield ctx, wl.id, snap.id, calls
    workloads_api.register_purge(None)


def test_database_only_keeps_the_backup_data(setup: Any) -> None:
    ctx, wid, _snap, calls = setup
    workloads_api.WorkloadAPI().delete_workload(ctx, wid, database_only=True)
    assert calls == []
    with pytest.raises(errors.NotFound):
        db.workload_get(wid, "p1")
    assert db.snapshot_list("p1") == [] and db.vm_owners(["vm-1"]) == {}


def test_full_delete_purges_the_snapshots_from_the_target(setup: Any) -> None:
    ctx, wid, snap, calls = setup
    workloads_api.WorkloadAPI().delete_workload(ctx, wid, database_only=False)
    assert calls == [(wid, [snap])]
    with pytest.raises(errors.NotFound):
        db.workload_get(wid, "p1")


def test_a_failing_purge_leaves_the_database_delete_standing(setup: Any) -> None:
    ctx, wid, _snap, _calls = setup

    def broken(*_args: Any) -> None:
        raise OSError("target unreachable")

    workloads_api.register_purge(broken)
    workloads_api.WorkloadAPI().delete_workload(ctx, wid, database_only=False)
    with pytest.raises(errors.NotFound):
        db.workload_get(wid, "p1")


def test_without_a_purge_hook_the_data_stays(setup: Any) -> None:
    ctx, wid, _snap, _calls = setup
    workloads_api.register_purge(None)
    assert workloads_api.purge_hook() is None  # nothing installed registers one
    workloads_api.WorkloadAPI().delete_workload(ctx, wid, database_only=False)
    with pytest.raises(errors.NotFound):
        db.workload_get(wid, "p1")
