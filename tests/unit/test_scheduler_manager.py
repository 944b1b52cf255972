"""t4o.scheduler.manager: placement by heartbeat and load, with db and RPC mocked."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from unittest import mock

from t4o.common.context import RequestContext
from t4o.db import states
from t4o.scheduler import manager


def make() -> manager.SchedulerManager:
    return manager.SchedulerManager(
        mock.Mock(workloads_topic="wt", service_down_time=60, report_interval=10, queued_job_timeout=120)
    )


def test_least_loaded_live_worker_wins() -> None:
    live = [SimpleNamespace(host="b"), SimpleNamespace(host="a"), SimpleNamespace(host="c")]
    with (
        mock.patch.object(manager.db, "services_alive", return_value=(live, [])),
        mock.patch.object(manager.db, "running_jobs_per_host", return_value={"a": 2, "b": 0, "c": 0}),
    ):
        assert make().pick_host() == "b"


def test_no_live_worker_fails_the_job() -> None:
    with (
        mock.patch.object(manager.db, "services_alive", return_value=([], [])),
        mock.patch.object(manager.db, "job_finish") as finish,
    ):
        make().schedule_job(RequestContext(), "snapshot", "j1")
    assert finish.call_args.args[:3] == ("snapshot", "j1", states.ERROR)


def test_placed_job_is_cast_to_the_worker() -> None:
    sched = make()
    with (
        mock.patch.object(sched, "pick_host", return_value="h1"),
        mock.patch.object(manager.db, "job_set_host", return_value=True),
        mock.patch.object(manager.workloads_rpcapi, "run_job") as cast,
    ):
        sched.schedule_job(RequestContext(), "restore", "r1")
    assert cast.call_args.args[1:] == ("h1", "restore", "r1")


def test_dead_workers_jobs_are_failed() -> None:
    with (
        mock.patch.object(
            manager.db,
            "services_alive",
            return_value=(
                [],
                [SimpleNamespace(host="gone", updated_at=manager.utcnow() - dt.timedelta(seconds=61))],
            ),
        ),
        mock.patch.object(manager.db, "jobs_fail_on_hosts", return_value=1) as fail,
    ):
        make().reap_dead_workers()
    assert fail.call_args.args == (
        ["gone"],
        "The workloads worker on gone (workloadmgr-workloads) stopped sending heartbeats.",
    )


def test_a_disabled_worker_with_a_heartbeat_keeps_its_jobs() -> None:
    now = manager.utcnow()
    down = [
        SimpleNamespace(host="disabled", disabled=True, updated_at=now),
        SimpleNamespace(host="silent", disabled=True, updated_at=now - dt.timedelta(seconds=120)),
    ]
    with (
        mock.patch.object(manager.db, "services_alive", return_value=([], down)),
        mock.patch.object(manager.db, "jobs_fail_on_hosts", return_value=0) as fail,
    ):
        make().reap_dead_workers()
    assert fail.call_args.args[0] == ["silent"]


def test_stranded_queued_jobs_fail_naming_who_lost_them() -> None:
    stranded = [("snapshot", "s1", None), ("restore", "r1", "gone"), ("snapshot", "s2", "alive")]
    with (
        mock.patch.object(manager.db, "services_alive", return_value=([SimpleNamespace(host="alive")], [])),
        mock.patch.object(manager.db, "jobs_queued_before", return_value=stranded) as queued,
        mock.patch.object(manager.db, "job_fail_queued", side_effect=[True, True, False]) as fail,
    ):
        assert make().fail_stranded_jobs() == 2
    cutoff = queued.call_args.args[0]
    assert abs((manager.utcnow() - cutoff).total_seconds() - 120) < 5
    reasons = {c.args[1]: c.args[3] for c in fail.call_args_list}
    assert "workloadmgr-scheduler" in reasons["s1"]
    assert "worker on gone stopped" in reasons["r1"]
    assert "worker on alive never took" in reasons["s2"]
    assert all(c.args[2] == cutoff for c in fail.call_args_list)
