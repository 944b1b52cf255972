"""cloud_ops: state waits poll soon and then less often; the ledger takes entries from several threads."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from unittest import mock

import pytest

from t4o.workloads.flows import cloud_ops
from t4o.workloads.flows.cloud_ops import CloudStepFailed, Ledger, wait_for


def test_polls_start_short_and_grow_to_the_ceiling() -> None:
    states = iter(["build"] * 6 + ["active"])
    sleeps: list[float] = []
    with mock.patch.object(cloud_ops.time, "sleep", sleeps.append):
        res = wait_for("server s", lambda: SimpleNamespace(status=next(states)), {"active"}, 60, poll=0.5)
    assert res.status == "active"
    assert sleeps[0] == pytest.approx(0.2) and sleeps[1] == pytest.approx(0.3)
    assert max(sleeps) == 0.5 and sleeps == sorted(sleeps)


def test_an_error_state_is_raised_with_its_fault() -> None:
    res = SimpleNamespace(status="ERROR", fault={"message": "No valid host"})
    with pytest.raises(CloudStepFailed, match="server s went to ERROR: No valid host"):
        wait_for("server s", lambda: res, {"active"}, 60)


def test_ledger_keeps_every_entry_added_from_threads_and_undoes_newest_first() -> None:
    ledger = Ledger(mock.Mock())
    threads = [
        threading.Thread(target=lambda n=n: [ledger.add("keypair", f"k{n}-{i}") for i in range(200)])
        for n in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ledger.items) == 800
    order = list(reversed(ledger.items))
    assert ledger.undo() == []
    deleted = [c.args[0] for c in ledger.conn.compute.delete_keypair.call_args_list]
    assert deleted == [rid for _, rid in order] and ledger.items == []
