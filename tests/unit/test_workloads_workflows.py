"""t4o.workloads.workflows (the plug point) and t4o.workloads.manager (running a job), with db mocked."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from t4o.common import drivers
from t4o.common.context import RequestContext
from t4o.db import states
from t4o.workloads import manager, workflows
from t4o.workloads.flows import restore as datamover_restore
from t4o.workloads.flows import snapshot as datamover_snapshot
from tests import stubs
from tests.stubs import stub_workflows


def test_the_configured_driver_chooses_the_workflows(
    t4o_conf: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert workflows.get("snapshot") is datamover_snapshot.snapshot  # the product's default
    assert workflows.get("restore") is datamover_restore.restore
    # The stubs' distribution registers its own names: installed beside the product, it changes nothing
    # until the configuration names it.
    stubs.install(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert workflows.get("snapshot") is datamover_snapshot.snapshot
    t4o_conf.set_override("workflow_driver", "stub")
    assert workflows.get("snapshot") is stub_workflows.snapshot
    assert workflows.get("restore") is stub_workflows.restore


def test_registered_workflows_come_first(t4o_conf: Any) -> None:
    custom = mock.Mock()
    workflows.register("snapshot", custom)
    try:
        assert workflows.get("snapshot") is custom
        assert workflows.get("restore") is datamover_restore.restore
    finally:
        workflows.unregister("snapshot")
    assert workflows.get("snapshot") is datamover_snapshot.snapshot
    with pytest.raises(ValueError, match="unknown job kind"):
        workflows.register("teleport", custom)


def test_an_unknown_driver_is_an_error_not_a_fallback(t4o_conf: Any) -> None:
    t4o_conf.set_override("workflow_driver", "teleport")
    with pytest.raises(drivers.DriverNotFound, match=r"workflow_driver = teleport: no entry point "):
        workflows.get("restore")


@pytest.mark.parametrize(
    ("status", "raised"),
    [
        (states.EXECUTING, None),
        (states.CANCELLING, workflows.JobCancelled),
        (states.ERROR, workflows.JobResolved),
    ],
)
def test_progress_notices_cancel_and_reset(status: str, raised: type[Exception] | None) -> None:
    job = workflows.Job("snapshot", "j1", RequestContext(), mock.Mock(), "h")
    with mock.patch.object(workflows.db, "job_progress", return_value=status) as progress:
        if raised is None:
            job.progress(10, "m")
        else:
            with pytest.raises(raised):
                job.progress(10, "m")
    progress.assert_called_once_with("snapshot", "j1", 10, "m")


@pytest.fixture
def worker() -> Any:
    conf = mock.Mock(host="h1", max_concurrent_jobs=2, report_interval=0.05)
    return manager.WorkloadsManager(conf, cloud=mock.Mock())


def run(worker: Any, workflow: Any, claimed: bool = True) -> Any:
    with (
        mock.patch.object(manager.db, "job_claim", return_value=claimed),
        mock.patch.object(manager.db, "job_finish", return_value=True) as finish,
        mock.patch.object(workflows, "get", return_value=workflow),
    ):
        worker.run_job(RequestContext(), "snapshot", "j1")
    return finish


def test_completed_job(worker: Any) -> None:
    finish = run(worker, lambda job: {"size": 5})
    finish.assert_called_once_with("snapshot", "j1", states.AVAILABLE, size=5)


def test_failed_job_keeps_the_message(worker: Any) -> None:
    def boom(job: Any) -> None:
        raise RuntimeError("disk unreadable")

    finish = run(worker, boom)
    finish.assert_called_once_with("snapshot", "j1", states.ERROR, error_msg="disk unreadable")


def test_cancelled_and_resolved_jobs(worker: Any) -> None:
    def cancelled(job: Any) -> None:
        raise workflows.JobCancelled("x")

    def resolved(job: Any) -> None:
        raise workflows.JobResolved("x")

    assert run(worker, cancelled).call_args.args[2] == states.CANCELLED
    run(worker, resolved).assert_not_called()


def test_unclaimed_job_is_not_run(worker: Any) -> None:
    workflow = mock.Mock()
    run(worker, workflow, claimed=False).assert_not_called()
    workflow.assert_not_called()


def test_restart_fails_own_jobs(worker: Any) -> None:
    with (
        mock.patch.object(manager.db, "jobs_fail_on_hosts", return_value=2) as fail,
        mock.patch.object(manager.file_search, "fail_interrupted", return_value=1) as searches,
        mock.patch.object(manager.transfer_slots_api, "release_worker", return_value=1) as slots,
        mock.patch.object(manager.restore_resources_api, "release", return_value=0) as claims,
        mock.patch.object(manager.restore_cleanup, "undo_orphaned", return_value=1) as cleanup,
    ):
        worker.init_host()
        for thread in threading.enumerate():
            if thread.name == "restore-cleanup":
                thread.join()
    assert fail.call_args.args[0] == ["h1"] and "restarted" in fail.call_args.args[1]
    searches.assert_called_once_with("h1")
    slots.assert_called_once_with("h1")  # its transfer slots are freed at once, not at their lease's end
    # what its failed restores created is removed at once, not at the first periodic pass
    claims.assert_called_once_with("h1")
    cleanup.assert_called_once_with("h1")


def test_job_waiting_for_a_slot_is_held_then_run(worker: Any) -> None:
    for _ in range(2):  # both slots busy
        worker._slots.acquire()
    timer = threading.Timer(0.3, worker._slots.release)
    timer.start()
    with mock.patch.object(manager.db, "job_waiting", return_value=True) as waiting:
        finish = run(worker, lambda job: {})
    timer.join()
    assert waiting.call_count >= 2  # said every report_interval while it waited
    assert waiting.call_args.args[:3] == ("snapshot", "j1", "h1")
    finish.assert_called_once()


def test_job_that_left_the_queue_while_waiting_is_dropped(worker: Any) -> None:
    for _ in range(2):
        worker._slots.acquire()
    workflow = mock.Mock()
    with mock.patch.object(manager.db, "job_waiting", return_value=False):
        run(worker, workflow).assert_not_called()
    workflow.assert_not_called()
    worker._slots.release()
    assert worker._slots.acquire(timeout=0)  # the dropped job took no slot


@pytest.mark.parametrize("scheduled", [False, True])
def test_failure_mail_is_left_to_the_cron_for_scheduled_snapshots(worker: Any, scheduled: bool) -> None:
    def boom(job: Any) -> None:
        raise RuntimeError("target unreachable")

    ctx = RequestContext(scheduled=scheduled)
    assert RequestContext.from_dict(ctx.to_dict()).scheduled is scheduled  # it crosses RPC
    with (
        mock.patch.object(manager.db, "job_claim", return_value=True),
        mock.patch.object(manager.db, "job_finish", return_value=True),
        mock.patch.object(workflows, "get", return_value=boom),
        mock.patch.object(worker, "_smtp", return_value={"smtp_server_name": "mail"}),
        mock.patch.object(manager.notify, "emit") as emit,
    ):
        worker.run_job(ctx, "snapshot", "j1")
    error = [c for c in emit.call_args_list if c.args[3] == "error"]
    assert len(error) == 1
    assert error[0].args[5] == (None if scheduled else {"smtp_server_name": "mail"})
