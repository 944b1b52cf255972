"""Job notifications for real: oslo.messaging notifications through RabbitMQ, and email to an aiosmtpd
SMTP server on 127.0.0.1, from a scheduled run that fails because its owner gave no trust."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import queue
import uuid
from pathlib import Path
from typing import Any

import oslo_messaging as messaging
import pytest

from t4o.cron.clock import ManualClock
from t4o.cron.manager import CronManager
from t4o.db import api as db
from t4o.db import policy_api, states
from t4o.db import policy_models as pm
from t4o.policies import notify
from tests.fixtures.control_plane import ensure_server, free_port
from tests.fixtures.smtp import Inbox

SERIAL = "f82ce76f-17fe-438b-aa37-7a023058e50d"


def settings(port: int, **extra: str) -> dict[str, str]:
    return {
        "smtp_email_enable": "true",
        "smtp_server_name": "127.0.0.1",
        "smtp_port": str(port),
        "smtp_default_sender": "t4o@example.org",
        "smtp_default_recipient": "ops@example.org, backup@example.org",
        **extra,
    }


def test_email_goes_to_every_recipient(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    assert notify.send_email(settings(port), "T4O test", "body text")
    mail = inbox.mails.get(timeout=10)
    assert mail.mail_from == "t4o@example.org"
    assert mail.rcpt_tos == ["ops@example.org", "backup@example.org"]
    assert b"Subject: T4O test" in mail.content and b"body text" in mail.content


def test_email_disabled_or_unreachable_is_no_error(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    assert not notify.send_email(settings(port, smtp_email_enable="false"), "s", "b")
    assert not notify.send_email(settings(free_port()), "s", "b")  # nothing listens there
    assert inbox.mails.empty()


class Collector:
    def __init__(self) -> None:
        self.events: queue.Queue[tuple[str, str, dict[str, Any]]] = queue.Queue()

    def info(self, ctxt: Any, publisher_id: str, event_type: str, payload: Any, metadata: Any) -> None:
        self.events.put(("INFO", event_type, payload))

    def error(self, ctxt: Any, publisher_id: str, event_type: str, payload: Any, metadata: Any) -> None:
        self.events.put(("ERROR", event_type, payload))


def test_a_failed_scheduled_run_is_notified_and_mailed(
    t4o_conf: Any, smtp: tuple[Inbox, int], tmp_path: Path
) -> None:
    ensure_server("rabbitmq")
    inbox, port = smtp
    topic = f"t4o-test-notifications-{uuid.uuid4().hex[:8]}"
    rabbit = "rabbit://guest:guest@127.0.0.1:5672/"
    transport = messaging.get_notification_transport(t4o_conf, url=rabbit)  # also registers the options
    t4o_conf.set_override("transport_url", rabbit, group="oslo_messaging_notifications")
    t4o_conf.set_override("driver", ["messagingv2"], group="oslo_messaging_notifications")
    t4o_conf.set_override("topics", [topic], group="oslo_messaging_notifications")
    t4o_conf.set_override("auth_strategy", "keystone")
    notify._notifiers.clear()

    collector = Collector()
    listener = messaging.get_notification_listener(
        transport, [messaging.Target(topic=topic)], [collector], executor="threading"
    )
    listener.start()
    try:
        wl = db.workload_create(
            {
                "project_id": "p1",
                "user_id": "alice",
                "workload_type_id": SERIAL,
                "status": states.AVAILABLE,
                "jobschedule": {"enabled": True, "start_date": "01/01/2026", "interval": "1 hr"},
            },
            [{"vm_id": "vm-1", "vm_name": "vm"}],
        )
        db.setting_upsert("p1", "alice", [{"name": k, "value": v} for k, v in settings(port).items()], False)
        clock = ManualClock(dt.datetime(2026, 1, 1, 0, 1, tzinfo=dt.UTC))
        manager = CronManager(t4o_conf, clock=clock, fire=lambda *a: pytest.fail("must not fire"))
        assert manager.tick() == []

        (run,) = policy_api.run_list(wl.id)
        assert run.status == pm.RUN_FAILED
        priority, event, payload = collector.events.get(timeout=30)
        assert (priority, event) == ("ERROR", "t4o.scheduled_snapshot.error")
        assert payload["workload_id"] == wl.id and "has no trust from its owner alice" in payload["error"]
        mail = email.message_from_bytes(inbox.mails.get(timeout=10).content, policy=email.policy.default)
        assert mail["Subject"].strip() == f"T4O scheduled snapshot error: workload {wl.id}"
        assert "has no trust from its owner alice" in mail.get_content()
    finally:
        listener.stop()
        listener.wait()
        transport.cleanup()
        notify._notifiers.clear()
