"""CronManager with backup windows and retries, on a real SQLite database with a simulated clock.

The worker side is the single stand-in here: ``fire`` queues the snapshot with the same database calls the
workloads API uses and ends it at once, available or in error as the test scripts it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from t4o.api import views
from t4o.common import errors
from t4o.cron.clock import ManualClock
from t4o.cron.manager import CronManager
from t4o.db import api as db
from t4o.db import policy_api, states
from t4o.db import policy_models as pm
from t4o.policies import notify

SERIAL = "f82ce76f-17fe-438b-aa37-7a023058e50d"
T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)  # a Monday, 12:00 UTC
WINDOW = {"start": "22:00", "end": "06:00"}


class Worker:
    """Queues like WorkloadAPI.snapshot_workload, then ends the job as scripted: each entry of ``script``
    is an exception to raise from fire, an error message to end the snapshot with, or None (available);
    when the script is empty, snapshots end available."""

    def __init__(self) -> None:
        self.script: list[Exception | str | None] = []
        self.calls: list[tuple[dt.datetime, str]] = []
        self.clock: ManualClock | None = None
        self.hold = False  # leave the snapshot queued: the workload stays busy

    def __call__(self, ctx: Any, workload_id: str, body: dict[str, Any], full: bool) -> Any:
        step = self.script.pop(0) if self.script else None
        if isinstance(step, Exception):
            raise step
        snap = db.snapshot_create(
            workload_id, ctx.project_id, {"user_id": ctx.user_id or "", "name": body["name"]}
        )
        assert self.clock is not None
        self.calls.append((self.clock.now(), snap.id))
        if not self.hold:
            assert db.job_claim("snapshot", snap.id, "worker-1")
            if step is None:
                assert db.job_finish("snapshot", snap.id, states.AVAILABLE)
            else:
                assert db.job_finish("snapshot", snap.id, states.ERROR, error_msg=step)
        return snap


def make_workload(schedule: dict[str, Any]) -> str:
    values = {
        "project_id": "p1",
        "user_id": "alice",
        "workload_type_id": SERIAL,
        "status": states.AVAILABLE,
        "name": "w",
        "jobschedule": schedule,
    }
    return db.workload_create(values, [{"vm_id": f"vm-{len(db.workload_list(None))}", "vm_name": "vm"}]).id


def hourly(**kw: Any) -> dict[str, Any]:
    return {"enabled": True, "start_date": "03/01/2026", "start_time": "00:00", "interval": "1 hr", **kw}


def daily_at(time: str, **kw: Any) -> dict[str, Any]:
    return {
        "enabled": True,
        "start_date": "03/01/2026",
        "daily": {"backup_time": [time], "retention": 7},
        **kw,
    }


@pytest.fixture
def cron(
    t4o_conf: Any, monkeypatch: pytest.MonkeyPatch
) -> tuple[CronManager, ManualClock, Worker, list[Any]]:
    t4o_conf.set_override("auth_strategy", "noauth")
    sent: list[tuple[str, str, dict[str, Any]]] = []
    monkeypatch.setattr(
        notify,
        "emit",
        lambda conf, ctx, job, phase, payload, settings=None: sent.append((job, phase, payload)),
    )
    clock = ManualClock(T0)
    worker = Worker()
    worker.clock = clock
    return CronManager(t4o_conf, clock=clock, fire=worker), clock, worker, sent


def run_until(manager: CronManager, clock: ManualClock, end: dt.datetime, step_minutes: int = 10) -> None:
    while clock.now() < end:
        manager.tick()
        clock.advance(dt.timedelta(minutes=step_minutes))
    manager.tick()


def naive(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=None)


def test_hourly_runs_start_only_in_the_window_the_first_at_its_opening(cron: Any) -> None:
    manager, clock, worker, _ = cron
    wl = make_workload(hourly(window=WINDOW))
    run_until(manager, clock, T0 + dt.timedelta(hours=20))  # to 08:00 the next day
    fired = [t for t, _ in worker.calls]
    assert fired == [T0 + dt.timedelta(hours=h) for h in range(10, 18)]  # 22:00 ... 05:00
    runs = policy_api.run_list(wl)
    assert [r.scheduled_time for r in runs] == [naive(t) for t in fired]
    assert {r.status for r in runs} == {pm.RUN_COMPLETED}


def test_a_daily_run_due_outside_waits_for_the_opening_in_the_time_zone(cron: Any) -> None:
    manager, clock, worker, _ = cron
    # 14:00 in Paris (13:00 UTC); the window opens at 22:00 Paris (21:00 UTC).
    wl = make_workload(daily_at("14:00", timezone="Europe/Paris", window=WINDOW))
    run_until(manager, clock, T0 + dt.timedelta(hours=8, minutes=50), step_minutes=5)  # 20:50 UTC
    assert worker.calls == [] and policy_api.run_list(wl) == []
    clock.advance(dt.timedelta(minutes=10))  # 21:00 UTC = 22:00 Paris
    (snap_id,) = manager.tick()
    assert worker.calls == [(T0 + dt.timedelta(hours=9), snap_id)]
    (run,) = policy_api.run_list(wl)
    assert run.scheduled_time == naive(T0 + dt.timedelta(hours=1)) and run.snapshot_id == snap_id


def test_a_window_missed_while_no_cron_ran_is_recorded_with_its_reason(cron: Any) -> None:
    manager, clock, worker, _ = cron
    wl = make_workload(daily_at("14:00", window=WINDOW))
    run_until(manager, clock, T0 + dt.timedelta(hours=11))  # its first run, at 22:00
    clock.advance(dt.timedelta(hours=19))  # down from 23:00 to 18:00 the next day, then to 07:00
    assert manager.tick() == []
    clock.advance(dt.timedelta(hours=13))
    assert manager.tick() == []
    first, run = policy_api.run_list(wl)
    assert first.status == pm.RUN_COMPLETED and len(worker.calls) == 1
    assert (run.scheduled_time, run.status) == (naive(T0 + dt.timedelta(days=1, hours=2)), pm.RUN_MISSED)
    assert run.message == (
        "its backup window 22:00-06:00 (UTC) closed at 2026-03-04T06:00:00Z: "
        "no cron process ran while it was open"
    )


def test_a_workload_busy_the_whole_window_misses_the_run(cron: Any) -> None:
    manager, clock, worker, _ = cron
    wl = make_workload(daily_at("14:00", window=WINDOW))
    manual = db.snapshot_create(wl, "p1", {"user_id": "alice", "name": "manual"})  # keeps it locked
    run_until(manager, clock, T0 + dt.timedelta(hours=12))  # to 00:00
    (run,) = policy_api.run_list(wl)
    assert run.status == pm.RUN_WAITING and "a job of it runs" in run.message
    run_until(manager, clock, T0 + dt.timedelta(hours=19))  # to 07:00
    (run,) = policy_api.run_list(wl)
    assert run.status == pm.RUN_MISSED and worker.calls == []
    assert run.message.startswith(
        "its backup window 22:00-06:00 (UTC) closed at 2026-03-03T06:00:00Z before it could start: "
        f"Workload {wl} is locked: a job of it runs"
    )
    assert db.snapshot_get(manual.id, None).status == states.QUEUED


def test_a_transient_failure_is_retried_with_backoff_and_succeeds(cron: Any) -> None:
    manager, clock, worker, sent = cron
    wl = make_workload(hourly())
    worker.script = ["VM web (1): Service Unavailable (HTTP 503)"]
    (first,) = manager.tick()
    assert manager.tick() == []  # its end is seen: a retry in 300 s
    (run,) = policy_api.run_list(wl)
    assert (run.status, run.attempts, run.snapshot_id) == (pm.RUN_RETRYING, 1, first)
    assert run.next_attempt_at == naive(T0 + dt.timedelta(seconds=300))
    assert run.message.startswith("VM web (1): Service Unavailable (HTTP 503) [attempt 1 of 4 failed")
    clock.advance(dt.timedelta(seconds=299))
    assert manager.tick() == []
    clock.advance(dt.timedelta(seconds=1))
    (second,) = manager.tick()
    manager.tick()
    (run,) = policy_api.run_list(wl)
    assert (run.status, run.attempts, run.snapshot_id) == (pm.RUN_COMPLETED, 2, second)
    assert run.message == "completed at attempt 2 of 4; before: VM web (1): Service Unavailable (HTTP 503)"
    assert [db.snapshot_get(s, None).status for s in (first, second)] == [states.ERROR, states.AVAILABLE]
    assert [phase for job, phase, _ in sent] == ["start", "start", "end"]


def test_backoff_doubles_and_the_failure_is_reported_once_after_the_last_attempt(
    cron: Any, t4o_conf: Any
) -> None:
    manager, clock, worker, sent = cron
    t4o_conf.set_override("retry_attempts", 2, group="cron")
    wl = make_workload(hourly(start_time="12:00", interval="24 hr"))
    worker.script = [errors.Conflict("No live, enabled workloads worker can run the snapshot now")] + [
        "snapshot: the backup target nfs://s/t is unavailable: timed out"
    ] * 2
    starts = []
    for _ in range(200):  # 100 minutes in 30 s ticks
        if manager.tick():
            starts.append(clock.now())
        clock.advance(dt.timedelta(seconds=30))
    # Attempt 1 could not queue (300 s); attempt 2's error was seen a tick (30 s) after it ended (600 s).
    assert starts == [T0 + dt.timedelta(seconds=300), T0 + dt.timedelta(seconds=930)]
    (run,) = policy_api.run_list(wl)
    assert (run.status, run.attempts) == (pm.RUN_ERROR, 3)
    assert run.message == (
        "snapshot: the backup target nfs://s/t is unavailable: timed out [attempt 3 of 3; no attempt left]"
    )
    errors_sent = [p for job, phase, p in sent if phase == "error"]
    assert len(errors_sent) == 1 and errors_sent[0]["attempts"] == 3
    assert errors_sent[0]["error"] == run.message
    # Each attempt as the API shows it: the first could not even queue a snapshot.
    one, two, three = views.scheduled_run(run)["attempts"]
    assert one == {
        "attempt": 1,
        "started_at": "2026-03-02T12:00:00Z",
        "ended_at": "2026-03-02T12:00:00Z",
        "result": "failed",
        "snapshot_id": None,
        "error": "No live, enabled workloads worker can run the snapshot now",
        "will_retry": True,
        "next_attempt_at": "2026-03-02T12:05:00Z",
        "retry_reason": "no workloads worker was available",
    }
    assert (two["started_at"], two["result"], two["next_attempt_at"]) == (
        "2026-03-02T12:05:00Z",
        "error",
        "2026-03-02T12:15:30Z",  # its end seen 30 s after 12:05, then twice the backoff
    )
    assert two["snapshot_id"] is not None and two["error"].startswith("snapshot: the backup target")
    assert (three["started_at"], three["will_retry"], three["retry_reason"]) == (
        "2026-03-02T12:15:30Z",
        False,
        "no attempt left",
    )


def test_a_permanent_failure_is_not_retried(cron: Any) -> None:
    manager, clock, worker, sent = cron
    wl = make_workload(hourly())
    worker.script = ["VM web (1): Instance 1 could not be found. (HTTP 404)"]
    manager.tick()
    manager.tick()
    clock.advance(dt.timedelta(minutes=20))
    assert manager.tick() == []
    (run,) = policy_api.run_list(wl)
    assert (run.status, run.attempts) == (pm.RUN_ERROR, 1)
    assert run.message == "VM web (1): Instance 1 could not be found. (HTTP 404)"
    assert len(worker.calls) == 1 and [p for _, p, _ in sent].count("error") == 1


def test_no_retry_after_the_window_closes_or_the_next_run(cron: Any, t4o_conf: Any) -> None:
    manager, clock, worker, _ = cron
    t4o_conf.set_override("retry_backoff", 3600, group="cron")
    in_window = make_workload(daily_at("05:30", window=WINDOW))
    clock.advance(dt.timedelta(hours=17, minutes=30))  # 05:30 the next day
    worker.script = ["Gateway Timeout (HTTP 504)"]
    manager.tick()
    manager.tick()
    (run,) = policy_api.run_list(in_window)
    assert run.status == pm.RUN_ERROR
    assert run.message == (
        "Gateway Timeout (HTTP 504) [attempt 1 of 4; its backup window 22:00-06:00 (UTC) closed at "
        "2026-03-03T06:00:00Z before the next attempt at 2026-03-03T06:30:00Z]"
    )
    hourly_wl = make_workload(hourly(start_time="00:30"))
    worker.script = ["Gateway Timeout (HTTP 504)"]
    manager.tick()
    manager.tick()
    run = policy_api.run_list(hourly_wl)[-1]
    assert run.status == pm.RUN_ERROR and run.message.endswith(
        "[attempt 1 of 4; the next scheduled run at 2026-03-03T06:30:00Z comes before the next attempt]"
    )


def test_a_busy_waiting_run_is_skipped_when_the_next_run_comes_due(cron: Any) -> None:
    manager, clock, worker, sent = cron
    wl = make_workload(hourly(window=WINDOW))
    db.snapshot_create(wl, "p1", {"user_id": "alice", "name": "manual"})  # keeps it locked
    clock.advance(dt.timedelta(hours=10))  # 22:00
    assert manager.tick() == []
    clock.advance(dt.timedelta(hours=1))  # 23:00: the 22:00 run gives way to the 23:00 one
    assert manager.tick() == []
    first, second = policy_api.run_list(wl)
    assert (first.status, second.status) == (pm.RUN_SKIPPED, pm.RUN_WAITING)
    assert first.message.startswith(
        "the next scheduled run at 2026-03-02T23:00:00Z came due before it could start: "
        f"Workload {wl} is locked"
    )
    assert sent == [] and worker.calls == []


def test_a_retry_that_finds_the_workload_busy_waits_and_keeps_its_failure(cron: Any) -> None:
    manager, clock, worker, sent = cron
    wl = make_workload(hourly())
    error = "VM web (1): Service Unavailable (HTTP 503)"
    worker.script = [error]
    (first,) = manager.tick()
    manager.tick()
    manual = db.snapshot_create(wl, "p1", {"user_id": "alice", "name": "manual"})  # busy at the retry
    clock.advance(dt.timedelta(minutes=5))
    assert manager.tick() == []
    (run,) = policy_api.run_list(wl)
    assert (run.status, run.attempts) == (pm.RUN_RETRYING, 1)
    assert run.message.startswith(f"{error} [attempt 2: Workload {wl} is locked")
    clock.advance(dt.timedelta(minutes=1))
    assert manager.tick() == []  # still busy: not counted
    assert policy_api.run_list(wl)[0].attempts == 1
    assert db.job_claim("snapshot", manual.id, "worker-1")
    assert db.job_finish("snapshot", manual.id, states.AVAILABLE)
    clock.advance(dt.timedelta(minutes=1))
    (second,) = manager.tick()
    manager.tick()
    (run,) = policy_api.run_list(wl)
    assert (run.status, run.attempts, run.snapshot_id) == (pm.RUN_COMPLETED, 2, second)
    assert run.message == f"completed at attempt 2 of 4; before: {error}"
    assert [phase for _, phase, _ in sent] == ["start", "start", "end"] and first != second


def test_a_retry_given_up_says_so_in_its_attempt(cron: Any) -> None:
    manager, clock, worker, sent = cron
    wl = make_workload(hourly())
    worker.script = ["VM web (1): Service Unavailable (HTTP 503)"]
    (first,) = manager.tick()
    manager.tick()
    (run,) = policy_api.run_list(wl)
    (attempt,) = views.scheduled_run(run)["attempts"]
    assert (attempt["will_retry"], attempt["next_attempt_at"]) == (True, "2026-03-02T12:05:00Z")
    assert views.scheduled_run(run)["next_attempt_at"] == "2026-03-02T12:05:00Z"
    clock.advance(dt.timedelta(hours=1, minutes=2))  # every cron process was down: 13:00 came due
    manager.tick()
    run = policy_api.run_list(wl)[0]
    shown = views.scheduled_run(run)
    assert (shown["status"], shown["next_attempt_at"], shown["missed"]) == (pm.RUN_ERROR, None, None)
    (attempt,) = shown["attempts"]
    assert (attempt["snapshot_id"], attempt["result"], attempt["will_retry"]) == (first, "error", False)
    assert attempt["next_attempt_at"] is None
    assert attempt["retry_reason"] == "the next scheduled run at 2026-03-02T13:00:00Z came due"
    assert [p for _, p, _ in sent].count("error") == 1


def test_runs_from_before_their_details_show_no_attempts(cron: Any) -> None:
    wl = make_workload(hourly())
    run_id = policy_api.claim_run(wl, T0, "cron-1", pm.RUN_COMPLETED)
    assert run_id is not None
    (run,) = policy_api.run_list(wl)
    assert run.details is None
    shown = views.scheduled_run(run)
    assert (shown["attempts"], shown["missed"], shown["attempt_count"]) == ([], None, 0)
