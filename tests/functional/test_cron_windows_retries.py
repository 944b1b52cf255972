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
from tests.fixtures.control_plane import ControlPlane, database_url, ensure_server, member
from tests.fixtures.smtp import Inbox, smtp_server

RABBIT = "rabbit://guest:guest@127.0.0.1:5672/"
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
    ensure_server("rabbitmq")
    tag = uuid.uuid4().hex[:8]
    workdir = tmp_path_factory.mktemp("cron-windows")
    script = workdir / "script.json"
    script.write_text("{}")
    with database_url("mariadb") as url:
        cp = ControlPlane(
            workdir,
            {
                "DEFAULT": {
                    "transport_url": RABBIT,
                    "control_exchange": f"t4o_test_{tag}",
                    "scheduler_topic": f"t4o-test-{tag}-scheduler",
                    "workloads_topic": f"t4o-test-{tag}-workloads",
                    "report_interval": 1,
                },
                "database": {"connection": url},
                "stub_workflows": {"script_file": str(script)},
            },
        )
        assert cp.manage("db", "sync").returncode == 0
        config.ensure_registered()
        conf = config.CONF
        conf(["--config-file", str(cp.config_file)], project="t4o", default_config_files=[])
        policy.reset()
        topic = f"t4o-test-cron-{tag}"
        transport = messaging.get_notification_transport(conf, url=RABBIT)  # also registers the options
        conf.set_override("transport_url", RABBIT, group="oslo_messaging_notifications")
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
            cp.stop()
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
    finally:
        release.touch()
    assert plane.cp.wait_job("snapshot", manual, proj, member(proj))["status"] == "available"
    assert [s["id"] for s in plane.snapshots(proj, wid)] == [manual]


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
    clock.advance(dt.timedelta(seconds=299))
    assert cron.tick() == []
    clock.advance(dt.timedelta(seconds=1))
    (second,) = cron.tick()
    assert plane.cp.wait_job("snapshot", second, proj, member(proj))["status"] == "available"
    cron.tick()
    (run,) = plane.runs(proj, wid)
    assert (run["status"], run["snapshot_id"]) == ("completed", second)
    assert run["message"] == f"completed at attempt 2 of 4; before: {error}"
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
    events = plane.recorder.drain()
    assert kinds(events, wid) == ["t4o.scheduled_snapshot.start", "t4o.scheduled_snapshot.error"]
    (payload,) = [p for e, p in events if e == "t4o.scheduled_snapshot.error"]
    assert (payload["error"], payload["attempts"], payload["snapshot_id"]) == (run["message"], 2, second)
    assert plane.inbox.subjects().count(f"T4O scheduled snapshot error: workload {wid}") == 1
    assert [s["status"] for s in plane.snapshots(proj, wid)] == ["error", "error"]
