"""Notifications of jobs: oslo.messaging notifications, and email through the project's SMTP settings.

Event types are ``t4o.<job>.start``, ``t4o.<job>.end`` and ``t4o.<job>.error`` (``<job>``: snapshot,
restore, scheduled_snapshot); the payload names the workload, the job and, on error, the message. Where they
go is oslo.messaging's ``[oslo_messaging_notifications]`` (driver ``messagingv2`` to RabbitMQ topic
``notifications``; the default driver sends nothing).

Email goes out when the project's settings say so (Trilio's names): ``smtp_email_enable`` true,
``smtp_server_name``, ``smtp_port``, ``smtp_default_sender``, ``smtp_default_recipient`` (comma separated),
optional ``smtp_server_username``/``smtp_server_password`` and ``smtp_timeout``. A mail that cannot be sent
is logged; it never fails the job.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from typing import Any

import oslo_messaging as messaging
from oslo_config import cfg
from oslo_utils import strutils

from t4o.common.log import get_logger
from t4o.policies import setting_secrets

LOG = get_logger(__name__)

_notifiers: dict[str, messaging.Notifier] = {}


def notifier(conf: cfg.ConfigOpts, publisher: str) -> messaging.Notifier:
    if publisher not in _notifiers:
        transport = messaging.get_notification_transport(conf)
        _notifiers[publisher] = messaging.Notifier(transport, publisher_id=f"{publisher}.{conf.host}")
    return _notifiers[publisher]


def emit(
    conf: cfg.ConfigOpts,
    ctx: Any,
    job: str,
    phase: str,
    payload: dict[str, Any],
    settings: dict[str, str] | None = None,
) -> None:
    """Send ``t4o.<job>.<phase>`` (start|end|error); on error also email when the settings enable it."""
    event = f"t4o.{job}.{phase}"
    try:
        n = notifier(conf, "t4o")
        (n.error if phase == "error" else n.info)(ctx, event, payload)
    except Exception:  # a broken notification bus must not fail the job it reports
        LOG.exception("Could not send notification %s", event)
    if settings and (phase == "error" or strutils.bool_from_string(settings.get("smtp_email_on_success"))):
        subject = f"T4O {job.replace('_', ' ')} {phase}: workload {payload.get('workload_id', '')}"
        body = "\n".join(f"{k}: {v}" for k, v in sorted(payload.items()))
        send_email(settings, subject, body)


def smtp_settings(rows: list[Any]) -> dict[str, str]:
    """The smtp_* settings of a project as a name -> value map, secrets (the password) decrypted."""
    return setting_secrets.reveal_map(cfg.CONF, [r for r in rows if str(r.name).startswith("smtp_")])


def send_email(settings: dict[str, str], subject: str, body: str) -> bool:
    """Send one mail as the SMTP settings say; False (and a log line) when disabled or it fails."""
    if not strutils.bool_from_string(settings.get("smtp_email_enable")):
        return False
    try:
        recipients = deliver(settings, subject, body)
    except ValueError as exc:
        LOG.warning("Email enabled but %s", exc)
        return False
    except (OSError, smtplib.SMTPException) as exc:
        LOG.warning("Could not send email %r through %s: %s", subject, settings.get("smtp_server_name"), exc)
        return False
    LOG.info("Email %r sent to %s", subject, ", ".join(recipients))
    return True


def deliver(settings: dict[str, str], subject: str, body: str) -> list[str]:
    """Send one mail through the SMTP server of the settings (enabled or not); its recipients.

    ValueError when a setting is missing or malformed; OSError or SMTPException when sending fails.
    """
    server = settings.get("smtp_server_name") or ""
    recipients = [r.strip() for r in (settings.get("smtp_default_recipient") or "").split(",") if r.strip()]
    sender = settings.get("smtp_default_sender") or ""
    if not server or not recipients or not sender:
        raise ValueError("smtp_server_name, smtp_default_sender or smtp_default_recipient is empty")
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = subject, sender, ", ".join(recipients)
    msg.set_content(body)
    port = int(settings.get("smtp_port") or 25)
    timeout = float(settings.get("smtp_timeout") or 10)
    with smtplib.SMTP(server, port, timeout=timeout) as smtp:
        user = settings.get("smtp_server_username")
        if user:
            if smtp.has_extn("starttls"):
                smtp.starttls()
            smtp.login(user, settings.get("smtp_server_password") or "")
        smtp.send_message(msg)
    return recipients
