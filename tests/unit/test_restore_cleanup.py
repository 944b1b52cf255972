"""What a restore created outlives its worker: recorded as the ledger grows (t4o.db.restore_resources_api)
and removed by another worker once the restore ended without its own (t4o.workloads.restore_cleanup)."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any
from unittest import mock

import pytest

from t4o.common.context import RequestContext
from t4o.db import api as db
from t4o.db import restore_resources_api as resources
from t4o.db import states
from t4o.workloads import restore_cleanup
from t4o.workloads.flows import ledger as ledger_module
from t4o.workloads.flows.ledger import Ledger

SERIAL = "f82ce76f-17fe-438b-aa37-7a023058e50d"
LEASE = dt.timedelta(minutes=5)


def executing_restore(host: str = "h1") -> str:
    """A restore of user u1 in project p1 running on ``host``."""
    wl = db.workload_create(
        {"project_id": "p1", "workload_type_id": SERIAL, "status": states.AVAILABLE, "name": "w"},
        [{"vm_id": f"vm-on-{host}", "vm_name": "vm"}],
    )
    snap = db.snapshot_create(wl.id, "p1", {"name": "s"})
    assert db.job_set_host("snapshot", snap.id, host) and db.job_claim("snapshot", snap.id, host)
    assert db.job_finish("snapshot", snap.id, states.AVAILABLE)
    restore = db.restore_create(snap.id, "p1", {"restore_type": "selective", "user_id": "u1"})
    assert db.job_set_host("restore", restore.id, host) and db.job_claim("restore", restore.id, host)
    return str(restore.id)


def recorded(restore_id: str, *items: tuple[str, str]) -> None:
    for kind, rid in items:
        resources.record(restore_id, kind, rid)


def test_the_ledger_of_a_restore_is_recorded_until_it_is_undone(t4o_conf: Any) -> None:
    rid = executing_restore()
    cloud = mock.Mock()
    ledger = Ledger(cloud, 10.0, rid)
    ledger.add("port", "p-1")
    ledger.add("server", "s-1")
    assert resources.claim(rid, "peek", LEASE) == [("port", "p-1"), ("server", "s-1")]  # oldest first
    assert ledger.undo() == []
    cloud.nova.delete_server.assert_called_once_with("s-1", 10.0)
    cloud.neutron.delete_port.assert_called_once_with("p-1")
    assert resources.forget(rid) == 0  # undo forgot them


def test_a_ledger_without_a_restore_id_writes_nothing() -> None:
    ledger = Ledger(mock.Mock())  # no database configured: any write would fail
    ledger.add("server", "s-1")
    assert ledger.undo() == []


def test_only_restores_that_ended_are_orphaned_and_one_cleaner_takes_each(t4o_conf: Any) -> None:
    running, dead = executing_restore("h1"), executing_restore("h2")
    recorded(running, ("server", "s-1"))
    recorded(dead, ("port", "p-2"), ("server", "s-2"))
    assert resources.orphaned() == []  # both still executing: their workers hold them
    assert db.jobs_fail_on_hosts(["h2"], "The workloads worker on h2 stopped sending heartbeats.") == 1
    assert [o.restore_id for o in resources.orphaned()] == [dead]
    orphan = resources.orphaned()[0]
    assert (orphan.status, orphan.project_id, orphan.user_id) == (states.ERROR, "p1", "u1")
    assert resources.claim(dead, "w1", LEASE) == [("port", "p-2"), ("server", "s-2")]
    assert resources.claim(dead, "w2", LEASE) == []  # w1's lease holds
    assert resources.orphaned() == []
    later = dt.datetime.now(dt.UTC).replace(tzinfo=None) + 2 * LEASE
    assert [o.restore_id for o in resources.orphaned(later)] == [dead]  # w1 died: its lease runs out
    assert resources.release("w1") == 2  # ... or w1 starts again and gives its claims up
    assert resources.claim(dead, "w2", LEASE) == [("port", "p-2"), ("server", "s-2")]


def test_a_note_is_added_to_a_failed_restores_error_only(t4o_conf: Any) -> None:
    rid = executing_restore()
    resources.note(rid, "Removed it.")
    assert db.restore_get(rid, None).error_msg is None  # still executing: not a failure's message
    db.jobs_fail_on_hosts(["h1"], "The worker died.")
    resources.note(rid, "Removed it.")
    assert db.restore_get(rid, None).error_msg == "The worker died. Removed it."


def test_a_dead_workers_restore_is_undone_newest_first_as_its_user(t4o_conf: Any) -> None:
    running, dead = executing_restore("h1"), executing_restore("h2")
    recorded(running, ("server", "s-1"))
    recorded(dead, ("volume", "v-2"), ("port", "p-2"), ("server", "s-2"))
    db.jobs_fail_on_hosts(["h2"], "The worker on h2 died.")
    calls: list[tuple[str, str]] = []
    cloud = mock.Mock()
    cloud.cinder.volume.return_value = None  # detached already
    cloud.cinder.delete_volume.side_effect = lambda rid, timeout: calls.append(("volume", rid))
    cloud.neutron.delete_port.side_effect = lambda rid: calls.append(("port", rid))
    cloud.nova.delete_server.side_effect = lambda rid, timeout: calls.append(("server", rid))
    cloud_for = mock.Mock(return_value=cloud)
    assert restore_cleanup.undo_orphaned("h1", cloud_for) == 1
    cloud_for.assert_called_once_with("p1", "u1")
    assert calls == [("server", "s-2"), ("port", "p-2"), ("volume", "v-2")]
    assert db.restore_get(dead, None).error_msg == (
        "The worker on h2 died. Removed what it had created: volume v-2, port p-2, server s-2."
    )
    assert restore_cleanup.undo_orphaned("h1", cloud_for) == 0  # nothing left of it
    assert resources.claim(running, "peek", LEASE) == [("server", "s-1")]  # the running one untouched


def test_what_could_not_be_removed_is_said(t4o_conf: Any) -> None:
    rid = executing_restore()
    recorded(rid, ("network", "n-1"))
    db.jobs_fail_on_hosts(["h1"], "Died.")
    cloud = mock.Mock()
    cloud.neutron.delete_network.side_effect = RuntimeError("in use")
    assert restore_cleanup.undo_orphaned("h2", lambda project, user: cloud) == 1
    assert (
        db.restore_get(rid, None).error_msg
        == "Died. Removed what it had created, but not: network n-1: in use."
    )
    assert resources.orphaned() == []  # said once, not retried at every pass


def test_without_credentials_the_restore_says_what_is_left(t4o_conf: Any) -> None:
    rid = executing_restore()
    recorded(rid, ("server", "s-1"))
    db.jobs_fail_on_hosts(["h1"], "Died.")
    assert restore_cleanup.undo_orphaned("h2", lambda project, user: None) == 1
    assert db.restore_get(rid, None).error_msg == (
        "Died. Left in the cloud (the user has no trust for T4O): server s-1."
    )
    assert resources.orphaned() == []


def test_a_completed_restore_keeps_what_it_created(t4o_conf: Any) -> None:
    """Its worker died between completing it and forgetting its rows: nothing is removed."""
    rid = executing_restore()
    recorded(rid, ("server", "s-1"))
    assert db.job_finish("restore", rid, states.AVAILABLE)
    cloud_for = mock.Mock()
    assert restore_cleanup.undo_orphaned("h2", cloud_for) == 1
    cloud_for.assert_not_called()
    assert resources.orphaned() == [] and resources.forget(rid) == 0


def test_the_users_trust_is_made_in_the_background_when_the_restore_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = threading.Event()
    ensure = mock.Mock(side_effect=lambda conf, ctx: made.set())
    monkeypatch.setattr(ledger_module.trusts, "ensure_trust", ensure)
    ctx = RequestContext(auth_token="tok", user_id="u1", project_id="p1")
    ledger = Ledger.recorded(mock.Mock(), 10.0, "r-1", ctx)
    assert made.wait(10) and ensure.call_args.args[1] is ctx
    assert ledger.restore_id == "r-1"
    ensure.reset_mock()
    Ledger.recorded(mock.Mock(), 10.0, "r-2", RequestContext(user_id="u1", project_id="p1", trust_id="t"))
    ensure.assert_not_called()  # a job acting through a trust already has one


def test_a_trust_that_cannot_be_made_does_not_fail_the_restore(monkeypatch: pytest.MonkeyPatch) -> None:
    done = threading.Event()

    def refuse(conf: Any, ctx: Any) -> None:
        done.set()
        raise ledger_module.keystone_trusts.TrustError("no [trustee]")

    monkeypatch.setattr(ledger_module.trusts, "ensure_trust", refuse)
    with mock.patch.object(ledger_module.LOG, "warning") as warning:
        Ledger.recorded(mock.Mock(), 10.0, "r-1", RequestContext(auth_token="t", user_id="u", project_id="p"))
        assert done.wait(10)
        for thread in threading.enumerate():
            if thread.name == "restore-trust":
                thread.join()
    assert "what it created stays" in warning.call_args.args[0]


def test_a_completed_restore_is_forgotten_by_its_worker_and_a_failed_one_by_its_ledger(t4o_conf: Any) -> None:
    from t4o.workloads import manager, workflows

    worker = manager.WorkloadsManager(
        mock.Mock(host="h1", max_concurrent_jobs=1, report_interval=0.05), cloud=mock.Mock()
    )
    done, failed = executing_restore("h0"), executing_restore("h2")

    def restore(job: workflows.Job) -> dict[str, Any]:
        ledger = Ledger(mock.Mock(), 10.0, job.id)
        ledger.add("server", f"s-{job.id}")
        if job.id == failed:
            raise RuntimeError(ledger.undo_after(RuntimeError("disk unreadable")))
        return {}

    with (
        mock.patch.object(manager.db, "job_claim", return_value=True),
        mock.patch.object(workflows, "get", return_value=restore),
        mock.patch.object(manager.notify, "emit"),
    ):
        worker.run_job(RequestContext(), "restore", done)
        worker.run_job(RequestContext(), "restore", failed)
    assert db.restore_get(done, None).status == states.AVAILABLE
    assert db.restore_get(failed, None).status == states.ERROR
    assert resources.orphaned() == []  # neither left rows for a cleaner
    assert resources.forget(done) == 0 and resources.forget(failed) == 0
