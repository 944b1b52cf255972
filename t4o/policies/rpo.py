"""Recovery point objectives: how old a workload's newest available snapshot may get.

A workload's jobschedule (or the workload policy it follows) may carry ``rpo_hours``. The RPO is breached
when the newest available snapshot was created more than ``rpo_hours`` ago, or, without one, when the
workload itself was. workloadmgr-cron calls :func:`check` on each tick: a new breach sends the notification
``t4o.workload.rpo_breached`` (priority WARN) and an email through the project's SMTP settings, once; the
alert is remembered in the workload's metadata under ``rpo_alert`` (a JSON text: metadata values are
strings) and removed when the breach ends (a new snapshot landed, or the RPO was raised or removed), which
sends ``t4o.workload.rpo_recovered`` (INFO).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from oslo_config import cfg

from t4o.common import errors
from t4o.common.context import RequestContext
from t4o.common.log import get_logger
from t4o.db import metrics_api, states
from t4o.policies import jobschedule, notify

LOG = get_logger(__name__)

ALERT_KEY = "rpo_alert"

# project_id -> its smtp_* settings (empty: no email)
SmtpSettings = Callable[[str], dict[str, str]]


@dataclass(frozen=True)
class RpoState:
    rpo_hours: float | None
    last_snapshot_at: dt.datetime | None  # aware UTC, the newest available snapshot's creation
    age_seconds: float | None  # of that snapshot
    breached: bool
    breached_at: dt.datetime | None = None  # when the snapshot (or the workload) got older than the RPO

    def view(self) -> dict[str, Any]:
        """The fields a workload's API view shows."""
        return {
            "rpo_hours": self.rpo_hours,
            "rpo_breached": self.breached,
            "last_snapshot_at": _iso(self.last_snapshot_at),
            "last_snapshot_age_seconds": None if self.age_seconds is None else round(self.age_seconds, 3),
            "rpo_missed_since": _iso(self.breached_at),
        }


def _utc(t: dt.datetime | None) -> dt.datetime | None:
    if t is None:
        return None
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


def _iso(t: dt.datetime | None) -> str | None:
    return None if t is None else t.isoformat(timespec="microseconds").replace("+00:00", "Z")


def rpo_of(schedule: dict[str, Any] | None, workload_id: str = "") -> float | None:
    """The schedule's RPO in hours; None when unset or (logged) unusable."""
    try:
        return jobschedule.rpo_hours(schedule)
    except errors.BadRequest as exc:
        LOG.warning("Workload %s has an unusable rpo_hours, ignored: %s", workload_id, exc)
        return None


def evaluate(
    schedule: dict[str, Any] | None,
    workload_created_at: dt.datetime,
    last_snapshot_at: dt.datetime | None,
    now: dt.datetime,
    workload_id: str = "",
) -> RpoState:
    """How the workload stands against its RPO at ``now`` (naive times are UTC)."""
    hours = rpo_of(schedule, workload_id)
    last = _utc(last_snapshot_at)
    now = _utc(now) or now
    age = None if last is None else (now - last).total_seconds()
    if hours is None:
        return RpoState(None, last, age, False)
    reference = last or _utc(workload_created_at)
    assert reference is not None
    limit = reference + dt.timedelta(hours=hours)
    breached = now > limit
    return RpoState(hours, last, age, breached, limit if breached else None)


def workload_state(wl: Any, now: dt.datetime | None = None) -> RpoState:
    """The RPO state of one workload row (for its API view)."""
    now = now or dt.datetime.now(dt.UTC)
    return evaluate(wl.jobschedule, wl.created_at, metrics_api.last_snapshot_at(wl.id), now, wl.id)


def _listed_schedule(raw: Any) -> dict[str, Any] | None:
    """A listed row's jobschedule, decoded only when it may hold an RPO (a listing reads it as JSON text)."""
    if isinstance(raw, bytes):
        raw = raw.decode()
    if isinstance(raw, str):
        if '"rpo_hours"' not in raw:
            return None
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
    return raw if isinstance(raw, dict) else None


def _listed_time(value: dt.datetime | str | None, now: dt.datetime) -> dt.datetime:
    # A listing's timestamp: a datetime, or the database's text 'YYYY-MM-DD HH:MM:SS[.ffffff]' (naive UTC).
    if value is None:
        return now
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def listing_views(rows: list[dict[str, Any]], now: dt.datetime | None = None) -> dict[str, dict[str, Any]]:
    """workload id -> the RPO fields of its view (RpoState.view) for the rows of a workloads listing. Rows
    listed with their ``last_snapshot_at`` (db.workload_list_rows(last_snapshot=True)) need no query;
    otherwise one query reads the newest available snapshots of the whole page. A row's schedule is
    decoded, and its creation time read, only when they can matter (an RPO; no snapshot): a page holds up
    to 1000 rows."""
    now = now or dt.datetime.now(dt.UTC)
    if rows and "last_snapshot_at" in rows[0]:
        newest = {r["id"]: _listed_time(r["last_snapshot_at"], now) for r in rows if r["last_snapshot_at"]}
    else:
        newest = metrics_api.last_snapshots_at([r["id"] for r in rows])
    views: dict[str, dict[str, Any]] = {}
    no_rpo = RpoState(None, None, None, False).view()
    for r in rows:
        schedule = _listed_schedule(r["jobschedule"])
        last = newest.get(r["id"])
        if schedule is None and last is None:  # most rows of a large page: nothing to compute
            views[r["id"]] = dict(no_rpo)
            continue
        created = _listed_time(r["created_at"], now) if schedule is not None and last is None else now
        views[r["id"]] = evaluate(schedule, created, last, now, r["id"]).view()
    return views


def _context(row: dict[str, Any]) -> RequestContext:
    return RequestContext(
        user_id=row["user_id"] or None,
        project_id=row["project_id"],
        roles=["member"],
        is_admin=False,
        overwrite=False,
    )


def _notify(
    conf: cfg.ConfigOpts, row: dict[str, Any], event: str, payload: dict[str, Any], warn: bool
) -> None:
    try:
        n = notify.notifier(conf, "t4o")
        (n.warn if warn else n.info)(_context(row), event, payload)
    except Exception:  # a broken notification bus must not stop the other workloads' checks
        LOG.exception("Could not send notification %s", event)


def _payload(row: dict[str, Any], state: RpoState, now: dt.datetime) -> dict[str, Any]:
    return {
        "workload_id": row["id"],
        "workload_name": row["name"],
        "project_id": row["project_id"],
        "user_id": row["user_id"],
        "rpo_hours": state.rpo_hours,
        "last_snapshot_at": _iso(state.last_snapshot_at),
        "last_snapshot_age_seconds": state.age_seconds,
        "breached_at": _iso(state.breached_at),
        "checked_at": _iso(now),
    }


def _alert(
    conf: cfg.ConfigOpts, row: dict[str, Any], state: RpoState, now: dt.datetime, smtp: SmtpSettings
) -> None:
    payload = _payload(row, state, now)
    LOG.warning(
        "Workload %s breached its RPO of %s h: newest available snapshot %s",
        row["id"],
        state.rpo_hours,
        payload["last_snapshot_at"] or "none",
    )
    _notify(conf, row, "t4o.workload.rpo_breached", payload, warn=True)
    try:
        settings = smtp(row["project_id"])
    except Exception:  # the mail is a courtesy: the notification went out
        LOG.exception("Could not read the SMTP settings of project %s", row["project_id"])
        return
    if settings:
        name = row["name"] or row["id"]
        subject = f"T4O RPO breached: workload {name} ({row['id']})"
        newest = payload["last_snapshot_at"] or "none (no available snapshot)"
        body = "\n".join(
            [
                f"The newest available snapshot of workload {name} is older than its RPO of "
                f"{state.rpo_hours:g} hours.",
                "",
                f"newest available snapshot: {newest}",
                *(f"{k}: {v}" for k, v in sorted(payload.items())),
            ]
        )
        notify.send_email(settings, subject, body)


def recorded_alert(metadata: dict[str, Any] | None) -> dict[str, Any] | None:
    """The alert recorded in a workload's metadata; None when there is none (or it is unreadable)."""
    raw = (metadata or {}).get(ALERT_KEY)
    try:
        alert = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
    return alert if isinstance(alert, dict) else None


def check(conf: cfg.ConfigOpts, now: dt.datetime, smtp: SmtpSettings) -> list[str]:
    """Alert on every new RPO breach and clear the alerts of ended ones; the ids of the workloads alerted.

    The alert is written to the workload's metadata before it is sent, by a compare-and-set that only one
    of several cron processes wins: a breach is reported at most once, even if its sending fails.
    """
    alerted: list[str] = []
    for row in metrics_api.recovery_points(with_metadata=True):
        if row["status"] == states.DELETING:
            continue
        state = evaluate(row["jobschedule"], row["created_at"], row["last_snapshot_at"], now, row["id"])
        current = (row["metadata"] or {}).get(ALERT_KEY)  # compared as stored, for the compare-and-set
        alert = recorded_alert(row["metadata"])
        try:
            if state.breached:
                mark = {
                    "rpo_hours": state.rpo_hours,
                    "last_snapshot_at": _iso(state.last_snapshot_at),
                    "breached_at": _iso(state.breached_at),
                    "alerted_at": _iso(now),
                }
                if alert is not None and alert.get("last_snapshot_at") == mark["last_snapshot_at"]:
                    continue  # this breach was alerted already
                text = json.dumps(mark, sort_keys=True)
                if metrics_api.swap_metadata_key(row["id"], ALERT_KEY, current, text):
                    _alert(conf, row, state, now, smtp)
                    alerted.append(row["id"])
            elif current is not None and metrics_api.swap_metadata_key(row["id"], ALERT_KEY, current, None):
                LOG.info("Workload %s is within its RPO again", row["id"])
                _notify(conf, row, "t4o.workload.rpo_recovered", _payload(row, state, now), warn=False)
        except Exception:  # one workload's trouble must not stop the others' checks
            LOG.exception("RPO check of workload %s failed", row["id"])
    return alerted
