"""Backup windows and retries of scheduled snapshots, end to end but for the clock.

workloadmgr-api, -scheduler and -workloads run as processes over RabbitMQ and MariaDB, with the stub cloud
and the stub workflows, which fail or hold a workload's snapshots as each test scripts them
(``[stub_workflows] script_file``). The cron service runs in this process with a moved clock and its own
path to the API layer (WorkloadAPI.snapshot_workload, the scheduler's RPC); its notifications go through
RabbitMQ to a listener here, its mail to an aiosmtpd server on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import queue
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import oslo_messaging as messaging
import pytest

from t4o.common import config, policy, rpc
from t4o.cron.clock import ManualClock
from t4o.cron.manager import CronManager
from t4o.db import api as db
from t4o.db import session
from t4o.policies import notify
from tests.fixtures.control_plane import RABBIT_URL, ControlPlane, broker_control_plane, member
from tests.fixtures.smtp import Inbox, smtp_server

# The moved clock starts at 12:00 UTC today: the snapshots' own times are real, near it.
T0 = dt.datetime.now(dt.UTC).replace(hour=12, minute=0, second=0, microsecond=0)


class Recorder:
    def __init__(self) -> None:
        self.events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()

    def info(self, ctxt: Any, publisher_id: str, event_type: str, payload: Any, metadata: Any) -> None:
        self.events.put((event_type, payload))

    def error(self, ctxt: Any, publisher_id: str, event_type: str, payload: Any, metadata: Any) -> None:
        self.events.put((event_type, payload))

    def drain(self, wait: float = 1.5) -> list[tuple[str, dict[str, Any]]]:
        """The events so far, after ``wait`` seconds for late ones."""
        time.sleep(wait)
        out = []
        while not self.events.empty():
            out.append(self.events.get())
        return out


@dataclass
class Plane:
    cp: ControlPlane
    script: Path
    inbox: Inbox
    smtp_port: int
    recorder: Recorder
    paused: list[tuple[str, str]]

    def workload(self, schedule: dict[str, Any]) -> tuple[str, str]:
        """A new project with one VM and a workload of it on ``schedule``; (project, workload id)."""
        proj = "p" + uuid.uuid4().hex[:8]
        (vm,) = self.cp.add_servers(proj, 1)
        body = {"workload": {"name": "w", "instances": [{"instance-id": vm}], "jobschedule": schedule}}
        resp = self.cp.request("POST", "/workloads", proj, member(proj), json=body)
        assert resp.status_code == 202, resp.text
        wid = resp.json()["workload"]["id"]
        self.paused.append((proj, wid))
        settings = {
            "smtp_email_enable": "true",
            "smtp_server_name": "127.0.0.1",
            "smtp_port": str(self.smtp_port),
            "smtp_default_sender": "t4o@example.org",
            "smtp_default_recipient": "ops@example.org",
        }
        db.setting_upsert(proj, "alice", [{"name": k, "value": v} for k, v in settings.items()], False)
        return proj, wid

    def script_steps(self, workload_id: str, steps: list[dict[str, str]]) -> None:
        data = json.loads(self.script.read_text())
        data[workload_id] = steps
        self.script.write_text(json.dumps(data))

    def runs(self, proj: str, wid: str) -> list[dict[str, Any]]:
        resp = self.cp.request("GET", f"/workloads/{wid}/scheduled_runs", proj, member(proj))
        assert resp.status_code == 200, resp.text
        return list(resp.json()["scheduled_runs"])

    def snapshots(self, proj: str, wid: str) -> list[dict[str, Any]]:
        resp = self.cp.request("GET", f"/snapshots/detail?workload_id={wid}", proj, member(proj))
        assert resp.status_code == 200, resp.text
        return list(resp.json()["snapshots"])


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plane]:
    workdir = tmp_path_factory.mktemp("cron-windows")
    script = workdir / "script.json"
    script.write_text("{}")
    options = {"stub_workflows": {"script_file": str(script)}}
    with broker_control_plane(workdir, options=options) as (cp, _):
        config.ensure_registered()
        conf = config.CONF
        conf(["--config-file", str(cp.config_file)], project="t4o", default_config_files=[])
        policy.reset()
        topic = f"t4o-test-cron-{cp.tag}"
        transport = messaging.get_notification_transport(conf, url=RABBIT_URL)  # also registers the options
        conf.set_override("transport_url", RABBIT_URL, group="oslo_messaging_notifications")
        conf.set_override("driver", ["messagingv2"], group="oslo_messaging_notifications")
        conf.set_override("topics", [topic], group="oslo_messaging_notifications")
        notify._notifiers.clear()
        recorder = Recorder()
        listener = messaging.get_notification_listener(
            transport, [messaging.Target(topic=topic)], [recorder], executor="threading"
        )
        mail = contextlib.ExitStack()
        inbox, smtp_port = mail.enter_context(smtp_server())
        listener.start()
        try:
            cp.start("api", ["workloadmgr-api"])
            cp.start("scheduler", ["workloadmgr-scheduler"])
            cp.start("worker", ["workloadmgr-workloads"])
            cp.wait_api()
            deadline = time.monotonic() + 60
            while not db.services_alive(conf.workloads_topic, 30)[0]:
                assert time.monotonic() < deadline, cp.log("worker")
                time.sleep(0.3)
            yield Plane(cp, script, inbox, smtp_port, recorder, [])
        finally:
            cp.stop()  # before the listener: the services' last notifications have somewhere to go
            listener.stop()
            listener.wait()
            mail.close()
            transport.cleanup()
            rpc.cleanup()
            notify._notifiers.clear()
            policy.reset()
            session.dispose_all()
            conf.reset()
            conf.clear_override("transport_url", group="oslo_messaging_notifications")
            conf.clear_override("driver", group="oslo_messaging_notifications")
            conf.clear_override("topics", group="oslo_messaging_notifications")


@pytest.fixture
def world(plane: Plane) -> Iterator[tuple[Plane, CronManager, ManualClock]]:
    """A cron service at 12:00 UTC today; the test's workloads are paused afterwards, so that the next
    test's cron leaves them alone."""
    plane.recorder.drain(0)
    plane.inbox.subjects()
    clock = ManualClock(T0)
    try:
        yield plane, CronManager(config.CONF, clock=clock), clock
    finally:
        config.CONF.clear_override("retry_attempts", group="cron")
        for proj, wid in plane.paused:
            plane.cp.request("POST", f"/workloads/{wid}/pause", proj, member(proj))
        plane.paused.clear()


def schedule(start_time: str, tz: str = "UTC", **kw: Any) -> dict[str, Any]:
    """One run a day at ``start_time`` (local), from today."""
    return {
        "enabled": True,
        "start_date": f"{T0:%m/%d/%Y}",
        "start_time": start_time,
        "interval": "24 hr",
        "timezone": tz,
        "fullbackup_interval": "-1",
        **kw,
    }


def at(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def kinds(events: list[tuple[str, dict[str, Any]]], wid: str) -> list[str]:
    return [e for e, p in events if p.get("workload_id") == wid and e.startswith("t4o.scheduled_snapshot.")]


def test_window_is_validated_by_the_api(world: Any) -> None:
    plane, _, _ = world
    cp = plane.cp
    proj = "p" + uuid.uuid4().hex[:8]
    (vm,) = cp.add_servers(proj, 1)
    for window, message in [
        ({"start": "25:00", "end": "06:00"}, "jobschedule.window.start must be a 24-hour time HH:MM"),
        ({"start": "22:00", "end": "22:00"}, "jobschedule.window: start and end are both 22:00"),
        ({"start": "22:00"}, "jobschedule.window.end must be a 24-hour time"),
        ({"start": "22:00", "end": "06:00", "tz": "UTC"}, "unknown field(s) tz"),
    ]:
        body = {
            "workload": {"instances": [{"instance-id": vm}], "jobschedule": schedule("14:00", window=window)}
        }
        resp = cp.request("POST", "/workloads", proj, member(proj), json=body)
        assert resp.status_code == 400 and message in resp.text, resp.text
    # A workload policy's window is checked the same way.
    resp = cp.request(
        "POST",
        "/workload_policy/",
        proj,
        f"root:{proj}:admin,member,reader",
        json={
            "workload_policy": {"display_name": "w", "field_values": {"window": {"start": "7", "end": "8"}}}
        },
    )
    assert resp.status_code == 400 and "jobschedule.window.start" in resp.text, resp.text


def test_a_run_due_outside_the_window_waits_and_starts_at_its_opening(world: Any) -> None:
    plane, cron, clock = world
    # Due at 14:00 in Paris (13:00 UTC in winter); the window opens at 22:00 Paris (21:00 UTC).
    proj, wid = plane.workload(schedule("14:00", "Europe/Paris", window={"start": "22:00", "end": "06:00"}))
    # Winter or summer time in Paris: the offset of today.
    offset = (
        dt.datetime.combine(T0.date(), dt.time(14), tzinfo=dt.UTC)
        .astimezone(ZoneInfo("Europe/Paris"))
        .utcoffset()
    )
    assert offset is not None
    due = dt.datetime.combine(T0.date(), dt.time(14), tzinfo=dt.UTC) - offset
    opening = dt.datetime.combine(T0.date(), dt.time(22), tzinfo=dt.UTC) - offset
    for t in (due, due + dt.timedelta(hours=3), opening - dt.timedelta(seconds=1)):
        clock.advance(t - clock.now())
        assert cron.tick() == []
    assert plane.runs(proj, wid) == [] and plane.snapshots(proj, wid) == []
    clock.advance(opening - clock.now())
    (snap_id,) = cron.tick()
    assert plane.cp.wait_job("snapshot", snap_id, proj, member(proj))["status"] == "available"
    cron.tick()
    (run,) = plane.runs(proj, wid)
    assert (run["status"], run["snapshot_id"]) == ("completed", snap_id)
    assert dt.datetime.fromisoformat(run["scheduled_time"]) == due.replace(tzinfo=None)


def test_a_run_that_cannot_start_before_the_window_closes_is_missed(world: Any, tmp_path: Path) -> None:
    plane, cron, clock = world
    proj, wid = plane.workload(schedule("14:00", window={"start": "22:00", "end": "06:00"}))
    release = tmp_path / "release"
    plane.script_steps(wid, [{"wait_for": str(release)}])
    # A manual snapshot at noon, outside the window: not limited by it. It holds the workload busy.
    resp = plane.cp.request(
        "POST", f"/workloads/{wid}", proj, member(proj), json={"snapshot": {"name": "manual"}}
    )
    assert resp.status_code == 202, resp.text
    manual = resp.json()["snapshot"]["id"]
    try:
        clock.advance(at(10) - clock.now())  # 22:00: the window opens, the workload is busy
        assert cron.tick() == []
        (run,) = plane.runs(proj, wid)
        assert run["status"] == "waiting" and "a job of it runs" in run["message"], run
        for hours in (12, 17.9):
            clock.advance(at(hours) - clock.now())
            assert cron.tick() == []
            assert plane.runs(proj, wid)[0]["status"] == "waiting"
        clock.advance(at(18) - clock.now())  # 06:00: closed
        assert cron.tick() == []
        (run,) = plane.runs(proj, wid)
        assert run["status"] == "missed" and run["snapshot_id"] is None
        assert run["message"].startswith(
            f"its backup window 22:00-06:00 (UTC) closed at {iso(at(18))} before it could start: "
            f"Workload {wid} is locked: a job of it runs"
        ), run
        missed = run["missed"]
        assert {k: missed[k] for k in ("reason", "window", "timezone", "window_closed_at")} == {
            "reason": "window_closed_busy",
            "window": {"start": "22:00", "end": "06:00"},
            "timezone": "UTC",
            "window_closed_at": iso(at(18)),
        }
        assert missed["detail"].startswith(f"Workload {wid} is locked"), missed
        assert (run["attempts"], run["attempt_count"], run["next_attempt_at"]) == ([], 0, None)
    finally:
        release.touch()
    assert plane.cp.wait_job("snapshot", manual, proj, member(proj))["status"] == "available"
    assert [s["id"] for s in plane.snapshots(proj, wid)] == [manual]


def test_a_missed_run_says_why(world: Any) -> None:
    plane, cron, clock = world
    proj, wid = plane.workload(schedule("14:00", window={"start": "22:00", "end": "06:00"}, rpo_hours=30))
    plain_proj, plain = plane.workload(schedule("12:00"))
    (late,) = cron.tick()  # 12:00: the plain schedule's run
    clock.advance(at(10) - clock.now())  # 22:00: the window opens, the 14:00 run starts
    (first,) = cron.tick()
    for proj_id, snap_id in ((plain_proj, late), (proj, first)):
        assert plane.cp.wait_job("snapshot", snap_id, proj_id, member(proj_id))["status"] == "available"
    cron.tick()
    # No cron process runs until 07:00 the day after next: the next day's window (22:00-06:00) passed.
    clock.advance(at(43) - clock.now())
    assert cron.tick() == []
    runs = plane.runs(proj, wid)
    assert [r["status"] for r in runs] == ["completed", "missed"], runs
    missed = runs[1]
    assert missed["message"] == (
        f"its backup window 22:00-06:00 (UTC) closed at {iso(at(42))}: no cron process ran while it was open"
    )
    assert missed["missed"] == {
        "reason": "window_closed",
        "window": {"start": "22:00", "end": "06:00"},
        "timezone": "UTC",
        "window_closed_at": iso(at(42)),
        "detail": "no cron process ran while it was open",
    }
    assert runs[0]["missed"] is None and runs[0]["attempts"][0]["result"] == "available"
    # Without a window: found beyond misfire_grace_time (600 s), the newest due run (12:00 today) is
    # missed; the 12:00 run of the day between was coalesced into it.
    (completed, skipped) = plane.runs(plain_proj, plain)
    assert completed["status"] == "completed" and skipped["status"] == "missed", skipped
    assert skipped["missed"] == {
        "reason": "misfire_grace_time",
        "detail": "found 68400 s after its time, beyond misfire_grace_time (600 s)",
    }
    # The detailed listing shows the RPO state read from MariaDB (the API's own clock: the snapshot just
    # taken is within the 30 h).
    (row,) = plane.cp.request("GET", "/workloads/detail", proj, member(proj)).json()["workloads"]
    assert (row["rpo_hours"], row["rpo_breached"], row["rpo_missed_since"]) == (30, False, None)
    assert row["last_snapshot_at"] is not None


def test_a_transient_failure_is_retried_and_succeeds_on_attempt_2(world: Any) -> None:
    plane, cron, clock = world
    proj, wid = plane.workload(schedule("12:00"))
    error = "VM web (1a2b): Service Unavailable (HTTP 503) (Request-ID: req-1)"
    plane.script_steps(wid, [{"error": error}])
    (first,) = cron.tick()
    assert plane.cp.wait_job("snapshot", first, proj, member(proj))["status"] == "error"
    assert cron.tick() == []
    (run,) = plane.runs(proj, wid)
    assert run["status"] == "retrying" and run["snapshot_id"] == first
    note = f"attempt 1 of 4 failed (a cloud service answered 5xx); next attempt at {iso(at(300 / 3600))}"
    assert run["message"] == f"{error} [{note}]"
    assert (run["attempt_count"], run["next_attempt_at"]) == (1, iso(at(300 / 3600)))
    (one,) = run["attempts"]
    ended = plane.cp.wait_job("snapshot", first, proj, member(proj))["finished_at"]
    assert (
        one
        == {
            "attempt": 1,
            "started_at": iso(T0),  # when the cron service queued it (its clock)
            "ended_at": ended[:19] + "Z",  # when the snapshot ended (the worker's clock)
            "result": "error",
            "snapshot_id": first,
            "error": error,
            "will_retry": True,
            "next_attempt_at": iso(at(300 / 3600)),
            "retry_reason": "a cloud service answered 5xx",
        }
    )
    # One run by its id shows the same; another workload's run, or an unknown id, is 404.
    path = f"/workloads/{wid}/scheduled_runs/{run['id']}"
    shown = plane.cp.request("GET", path, proj, member(proj))
    assert shown.status_code == 200 and shown.json()["scheduled_run"] == run, shown.text
    other_proj, other = plane.workload(schedule("12:00", enabled=False))
    for path, who in [
        (f"/workloads/{wid}/scheduled_runs/{uuid.uuid4()}", proj),
        (f"/workloads/{other}/scheduled_runs/{run['id']}", other_proj),  # not a run of that workload
        (f"/workloads/{wid}/scheduled_runs/{run['id']}", other_proj),  # not a workload of that project
    ]:
        resp = plane.cp.request("GET", path, who, member(who))
        assert resp.status_code == 404, resp.text
    clock.advance(dt.timedelta(seconds=299))
    assert cron.tick() == []
    clock.advance(dt.timedelta(seconds=1))
    (second,) = cron.tick()
    assert plane.cp.wait_job("snapshot", second, proj, member(proj))["status"] == "available"
    cron.tick()
    (run,) = plane.runs(proj, wid)
    assert (run["status"], run["snapshot_id"]) == ("completed", second)
    assert run["message"] == f"completed at attempt 2 of 4; before: {error}"
    assert (run["attempt_count"], run["next_attempt_at"]) == (2, None)
    one, two = run["attempts"]
    assert (one["attempt"], one["result"], one["will_retry"]) == (1, "error", True)
    assert {k: two[k] for k in ("attempt", "started_at", "result", "snapshot_id", "error", "will_retry")} == {
        "attempt": 2,
        "started_at": iso(at(300 / 3600)),
        "result": "available",
        "snapshot_id": second,
        "error": None,
        "will_retry": False,
    }
    assert two["ended_at"] and two["next_attempt_at"] is None
    snaps = {s["id"]: s for s in plane.snapshots(proj, wid)}
    assert {k: s["status"] for k, s in snaps.items()} == {first: "error", second: "available"}
    assert snaps[first]["error_msg"] == error
    events = kinds(plane.recorder.drain(), wid)
    assert sorted(events) == sorted(["t4o.scheduled_snapshot.start"] * 2 + ["t4o.scheduled_snapshot.end"])
    assert not any(s.startswith("T4O scheduled snapshot error") for s in plane.inbox.subjects())


def test_a_permanent_failure_is_not_retried(world: Any) -> None:
    plane, cron, clock = world
    proj, wid = plane.workload(schedule("12:00"))
    error = "VM web (1a2b): Instance 1a2b could not be found. (HTTP 404)"
    plane.script_steps(wid, [{"error": error}])
    (first,) = cron.tick()
    assert plane.cp.wait_job("snapshot", first, proj, member(proj))["status"] == "error"
    cron.tick()
    for _ in range(3):
        clock.advance(dt.timedelta(minutes=10))
        assert cron.tick() == []
    (run,) = plane.runs(proj, wid)
    assert (run["status"], run["snapshot_id"], run["message"]) == ("error", first, error)
    (one,) = run["attempts"]
    assert (one["result"], one["error"], one["will_retry"], one["next_attempt_at"]) == (
        "error",
        error,
        False,
        None,
    )
    assert one["retry_reason"] == "not retried: a resource is gone"
    assert [s["id"] for s in plane.snapshots(proj, wid)] == [first]
    assert kinds(plane.recorder.drain(), wid) == [
        "t4o.scheduled_snapshot.start",
        "t4o.scheduled_snapshot.error",
    ]
    assert plane.inbox.subjects().count(f"T4O scheduled snapshot error: workload {wid}") == 1


def test_after_the_last_attempt_the_failure_is_notified_once(world: Any) -> None:
    plane, cron, clock = world
    config.CONF.set_override("retry_attempts", 1, group="cron")
    proj, wid = plane.workload(schedule("12:00"))
    error = "VM web (1a2b): the data transfer failed: datamover-api cannot be reached: Connection refused"
    plane.script_steps(wid, [{"error": error}, {"error": error}])
    (first,) = cron.tick()
    assert plane.cp.wait_job("snapshot", first, proj, member(proj))["status"] == "error"
    cron.tick()
    assert kinds(plane.recorder.drain(), wid) == ["t4o.scheduled_snapshot.start"]
    assert f"T4O scheduled snapshot error: workload {wid}" not in plane.inbox.subjects()
    clock.advance(dt.timedelta(seconds=300))
    (second,) = cron.tick()
    assert plane.cp.wait_job("snapshot", second, proj, member(proj))["status"] == "error"
    for _ in range(3):
        cron.tick()
        clock.advance(dt.timedelta(minutes=20))
    (run,) = plane.runs(proj, wid)
    assert (run["status"], run["snapshot_id"]) == ("error", second)
    assert run["message"] == f"{error} [attempt 2 of 2; no attempt left]"
    one, two = run["attempts"]
    assert [a["snapshot_id"] for a in run["attempts"]] == [first, second]
    assert (one["will_retry"], one["next_attempt_at"]) == (True, iso(at(300 / 3600)))
    assert (two["result"], two["will_retry"], two["retry_reason"]) == ("error", False, "no attempt left")
    events = plane.recorder.drain()
    assert kinds(events, wid) == ["t4o.scheduled_snapshot.start", "t4o.scheduled_snapshot.error"]
    (payload,) = [p for e, p in events if e == "t4o.scheduled_snapshot.error"]
    assert (payload["error"], payload["attempts"], payload["snapshot_id"]) == (run["message"], 2, second)
    assert plane.inbox.subjects().count(f"T4O scheduled snapshot error: workload {wid}") == 1
    assert [s["status"] for s in plane.snapshots(proj, wid)] == ["error", "error"]
