"""RPO alerts of workloadmgr-cron with a moved clock: oslo.messaging notifications through RabbitMQ and email
to an aiosmtpd SMTP server on 127.0.0.1, once per breach, cleared when a new snapshot lands."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import queue
import uuid
from collections.abc import Iterator
from typing import Any

import jsonschema
import oslo_messaging as messaging
import pytest

from t4o.api.schemas.common import METADATA
from t4o.cron.clock import ManualClock
from t4o.cron.manager import CronManager
from t4o.db import api as db
from t4o.db import states
from t4o.db.models import Snapshot
from t4o.db.session import session_scope
from t4o.policies import notify
from tests.fixtures.control_plane import ensure_server
from tests.fixtures.smtp import Inbox

SERIAL = "f82ce76f-17fe-438b-aa37-7a023058e50d"
T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def settings(port: int) -> dict[str, str]:
    return {
        "smtp_email_enable": "true",
        "smtp_server_name": "127.0.0.1",
        "smtp_port": str(port),
        "smtp_default_sender": "t4o@example.org",
        "smtp_default_recipient": "ops@example.org, backup@example.org",
    }


class Listener:
    """Records each notification with its priority."""

    def __init__(self) -> None:
        self.events: queue.Queue[tuple[str, str, dict[str, Any]]] = queue.Queue()

    def info(self, ctxt: Any, publisher_id: str, event_type: str, payload: Any, metadata: Any) -> None:
        self.events.put(("INFO", event_type, payload))

    def warn(self, ctxt: Any, publisher_id: str, event_type: str, payload: Any, metadata: Any) -> None:
        self.events.put(("WARN", event_type, payload))


@pytest.fixture
def events(t4o_conf: Any) -> Iterator[queue.Queue[tuple[str, str, dict[str, Any]]]]:
    ensure_server("rabbitmq")
    topic = f"t4o-test-rpo-{uuid.uuid4().hex[:8]}"
    rabbit = "rabbit://guest:guest@127.0.0.1:5672/"
    transport = messaging.get_notification_transport(t4o_conf, url=rabbit)
    t4o_conf.set_override("transport_url", rabbit, group="oslo_messaging_notifications")
    t4o_conf.set_override("driver", ["messagingv2"], group="oslo_messaging_notifications")
    t4o_conf.set_override("topics", [topic], group="oslo_messaging_notifications")
    notify._notifiers.clear()
    recorder = Listener()
    listener = messaging.get_notification_listener(
        transport, [messaging.Target(topic=topic)], [recorder], executor="threading"
    )
    listener.start()
    try:
        yield recorder.events
    finally:
        listener.stop()
        listener.wait()
        transport.cleanup()
        notify._notifiers.clear()


def workload(project: str, schedule: dict[str, Any], created: dt.datetime) -> str:
    wl = db.workload_create(
        {
            "project_id": project,
            "user_id": "alice",
            "name": f"wl-{uuid.uuid4().hex[:6]}",
            "workload_type_id": SERIAL,
            "status": states.AVAILABLE,
            "jobschedule": schedule,
            "created_at": created.replace(tzinfo=None),
        },
        [{"vm_id": str(uuid.uuid4()), "vm_name": "vm"}],
    )
    return wl.id


def snapshot(workload_id: str, project: str, at: dt.datetime, status: str = states.AVAILABLE) -> None:
    naive = at.replace(tzinfo=None)
    with session_scope() as s:
        s.add(
            Snapshot(
                workload_id=workload_id,
                project_id=project,
                status=status,
                created_at=naive,
                updated_at=naive,
                finished_at=naive,
            )
        )


def no_more(q: queue.Queue[Any], wait: float = 1.0) -> None:
    with pytest.raises(queue.Empty):
        item = q.get(timeout=wait)
        pytest.fail(f"unexpected: {item}")


def test_a_breach_is_notified_and_mailed_once_until_a_new_snapshot_lands(
    t4o_conf: Any, smtp: tuple[Inbox, int], events: queue.Queue[Any]
) -> None:
    inbox, port = smtp
    db.setting_upsert("p1", "alice", [{"name": k, "value": v} for k, v in settings(port).items()], False)
    watched = workload("p1", {"enabled": False, "rpo_hours": 26}, T0)
    snapshot(watched, "p1", T0 + dt.timedelta(hours=1))
    snapshot(watched, "p1", T0 + dt.timedelta(hours=20), status=states.ERROR)  # does not count
    unwatched = workload("p1", {"enabled": False}, T0)  # no RPO: never alerted
    never = workload("p2", {"enabled": False, "rpo_hours": "2"}, T0)  # no snapshot, project without mail

    clock = ManualClock(T0 + dt.timedelta(hours=1, minutes=30))
    manager = CronManager(t4o_conf, clock=clock, fire=lambda *a: pytest.fail("must not fire"))
    assert manager.tick() == []
    no_more(events)

    clock.advance(dt.timedelta(hours=1))  # T0+2.5h: `never` has had no snapshot for more than 2 h
    assert manager.check_rpo() == [never]
    priority, event, payload = events.get(timeout=30)
    assert (priority, event) == ("WARN", "t4o.workload.rpo_breached")
    assert payload["workload_id"] == never and payload["rpo_hours"] == 2.0
    assert payload["last_snapshot_at"] is None
    assert payload["breached_at"] == "2026-03-01T14:00:00.000000Z"
    assert inbox.mails.empty()  # p2 has no SMTP settings

    clock.advance(dt.timedelta(hours=25))  # T0+27.5h: `watched`'s snapshot of T0+1h is 26.5 h old
    assert manager.tick() == []  # each tick checks the RPOs
    priority, event, payload = events.get(timeout=30)
    assert (priority, event, payload["workload_id"]) == ("WARN", "t4o.workload.rpo_breached", watched)
    assert payload["last_snapshot_at"] == "2026-03-01T13:00:00.000000Z"
    assert payload["breached_at"] == "2026-03-02T15:00:00.000000Z"
    mail = email.message_from_bytes(inbox.mails.get(timeout=10).content, policy=email.policy.default)
    assert mail["Subject"].strip().startswith("T4O RPO breached: workload wl-")
    assert watched in mail["Subject"] and "older than its RPO of 26 hours" in mail.get_content()
    metadata = db.workload_get(watched, None).metadata_
    jsonschema.validate(metadata, METADATA)  # a client may send the metadata back as it reads it
    alert = json.loads(metadata["rpo_alert"])
    assert alert["last_snapshot_at"] == "2026-03-01T13:00:00.000000Z"

    # Later ticks, and a second cron process, say nothing more about the same breach.
    other = CronManager(t4o_conf, clock=clock, fire=lambda *a: pytest.fail("must not fire"))
    clock.advance(dt.timedelta(hours=3))
    assert manager.check_rpo() == [] and other.check_rpo() == []
    no_more(events)
    assert inbox.mails.empty()

    # A new snapshot lands: the alert is cleared, and the recovery is notified (no mail).
    snapshot(watched, "p1", clock.now() - dt.timedelta(minutes=5))
    assert manager.check_rpo() == []
    priority, event, payload = events.get(timeout=30)
    assert (priority, event, payload["workload_id"]) == ("INFO", "t4o.workload.rpo_recovered", watched)
    assert "rpo_alert" not in db.workload_get(watched, None).metadata_
    no_more(events, 0.5)

    # The next breach is a new one: alerted again.
    clock.advance(dt.timedelta(hours=26, minutes=10))
    assert manager.check_rpo() == [watched]
    assert events.get(timeout=30)[1] == "t4o.workload.rpo_breached"
    assert inbox.mails.get(timeout=10).rcpt_tos == ["ops@example.org", "backup@example.org"]
    assert "rpo_alert" not in db.workload_get(unwatched, None).metadata_


def test_lowering_the_rpo_below_the_age_is_a_new_breach_and_removing_it_clears(
    t4o_conf: Any, smtp: tuple[Inbox, int], events: queue.Queue[Any]
) -> None:
    inbox, port = smtp
    db.setting_upsert("p1", "alice", [{"name": k, "value": v} for k, v in settings(port).items()], False)
    wid = workload("p1", {"enabled": False, "rpo_hours": 48}, T0)
    snapshot(wid, "p1", T0)
    clock = ManualClock(T0 + dt.timedelta(hours=30))
    manager = CronManager(t4o_conf, clock=clock, fire=lambda *a: pytest.fail("must not fire"))
    assert manager.check_rpo() == []

    db.workload_update(wid, None, {"jobschedule": {"enabled": False, "rpo_hours": 24}}, None)
    assert manager.check_rpo() == [wid]
    assert events.get(timeout=30)[1] == "t4o.workload.rpo_breached"
    assert inbox.mails.get(timeout=10)

    db.workload_update(wid, None, {"jobschedule": {"enabled": False}}, None)
    assert manager.check_rpo() == []
    assert events.get(timeout=30)[1] == "t4o.workload.rpo_recovered"
    assert "rpo_alert" not in db.workload_get(wid, None).metadata_
    assert inbox.mails.empty()
