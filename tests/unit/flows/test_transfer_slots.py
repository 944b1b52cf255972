"""Transfer slots in the flows: the fairness rule itself, the waiting message, and a snapshot VM's transfer
that waits for a slot of its host, holds it while the agent moves its data, and gives it back (on the
unit tests' migrated SQLite database; the datamover replaced by a stub)."""

from __future__ import annotations

import datetime as dt
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from t4o.datamover.client import TransferFailed, TransferRef
from t4o.db import transfer_slots_api as api
from t4o.db.models import utcnow
from t4o.db.transfer_slots_api import Busy, Limits, Request, plan
from t4o.workloads.flows import config, vm_runner
from t4o.workloads.flows import snapshot as flow
from t4o.workloads.flows.transfer_slots import TransferSlots, target_key

T0 = dt.datetime(2026, 1, 5, 22, 0, 0)


def req(rid: str, project: str, host: str = "h1", target: str = "/v", at: int = 0) -> Request:
    return Request(rid, project, host, target, T0 + dt.timedelta(seconds=at))


def test_the_project_with_fewer_running_goes_first() -> None:
    running = [req("r1", "big")]
    waiting = [req(f"b{i}", "big", at=i) for i in range(10)] + [req("s0", "small", at=20)]
    assert plan(running, waiting, Limits(per_host=2)) == ["s0"]


def test_equal_running_the_project_served_longest_ago_goes_first_then_the_oldest_request() -> None:
    waiting = [req(f"b{i}", "big", at=i) for i in range(3)] + [req("s0", "small", at=20)]
    turns = {"big": T0 + dt.timedelta(seconds=30)}  # big was just served; small never
    assert plan([], waiting, Limits(per_host=1), turns, T0)[0] == "s0"
    assert plan([], waiting, Limits(per_host=1))[0] == "b0"  # no history: the oldest request
    assert plan([], waiting, Limits(per_host=4), turns, T0) == ["s0", "b0", "b1", "b2"]


def test_a_full_host_does_not_hold_back_other_hosts_and_every_limit_counts() -> None:
    running = [req("r1", "p", host="h1"), req("r2", "p", host="h2", target="s3://b")]
    waiting = [
        req("w1", "q", host="h1", at=1),
        req("w2", "q", host="h3", at=2),
        req("w3", "q", host="h4", at=3),
    ]
    assert plan(running, waiting, Limits(per_host=1)) == ["w2", "w3"]
    assert plan(running, waiting, Limits(per_host=1, total=3)) == ["w2"]
    assert plan(running, waiting, Limits(per_target=2)) == ["w1"]  # target /v: one running, room for one
    assert plan(running, waiting, Limits()) == ["w1", "w2", "w3"]


def test_the_waiting_message_names_what_is_full() -> None:
    limits = Limits(per_host=2, per_target=8, total=3)
    assert Busy(2, 2, 2, 0).describe("cmp1", limits) == "host cmp1: 2 of 2 busy"
    assert Busy(1, 8, 3, 0).describe("cmp1", limits) == "backup target: 8 of 8 busy; all hosts: 3 of 3 busy"
    assert Busy(0, 0, 0, 2).describe("cmp1", limits) == "2 request(s) of other projects served first"


def test_the_target_key_has_no_credentials() -> None:
    assert target_key("s3://key:secret@s3.example.com:8333/bucket/t4o?region=x") == (
        "s3://s3.example.com:8333/bucket/t4o"
    )
    assert target_key("/var/lib/t4o/vault") == "/var/lib/t4o/vault"


def test_no_limit_set_means_no_slots(t4o_conf: Any) -> None:
    config.ensure_registered(t4o_conf)
    job: Any = SimpleNamespace(kind="snapshot", id="s1", host="w1")
    for name in ("max_transfers_per_host", "max_transfers_per_target", "max_transfers_total"):
        t4o_conf.set_override(name, 0, group="workflows")
    assert TransferSlots.for_job(job, "p", t4o_conf) is None
    t4o_conf.set_override("max_transfers_total", 4, group="workflows")
    slots = TransferSlots.for_job(job, "p", t4o_conf)
    assert slots is not None and slots.limits == Limits(0, 0, 4) and slots.worker == "w1"


class Datamover:
    """A datamover-api stub: VM vm1 is on cmp1; a transfer ends when the test lets it."""

    def __init__(self, conf: Any = None) -> None:
        self.go = threading.Event()
        self.fail_start = False
        self.seen_running: list[str] = []

    def host_of(self, server_id: str) -> str:
        return "cmp1"

    def start(self, kind: str, server_id: str, spec: dict[str, Any]) -> TransferRef:
        if self.fail_start:
            raise TransferFailed("datamover-api answered 409: no agent")
        self.seen_running = [r.state for r in api.listing() if r.host == "cmp1"]
        return TransferRef("t1", "cmp1", server_id)

    def wait(self, ref: TransferRef, on_view: Any) -> dict[str, Any]:
        assert self.go.wait(30)
        disk = {"size": 10, "read_bytes": 10, "new_bytes": 5, "target": "vda", "ref": "r1"}
        return {
            "result": {"consistency": "crash", "consistency_reason": "", "checkpoint": "c", "disks": [disk]}
        }


@pytest.fixture
def snapshot_run(
    t4o_conf: Any, monkeypatch: pytest.MonkeyPatch
) -> tuple[flow.SnapshotRun, Datamover, list[str]]:
    config.ensure_registered(t4o_conf)
    dm = Datamover()
    messages: list[str] = []
    monkeypatch.setattr(flow, "DatamoverClient", lambda conf: dm)
    monkeypatch.setattr(
        flow, "capture_server", lambda cloud, vm_id: {"server": {"name": "web"}, "volumes": []}
    )
    monkeypatch.setattr(flow.targets, "spec_for_workload", lambda workload: {"url": "vault"})
    monkeypatch.setattr(flow.db, "snapshot_record_vm", lambda sid, rec: None)
    slots = TransferSlots(
        Limits(per_host=1), job_kind="snapshot", job_id="s1", project_id="p", worker="w1", target="/v",
        lease=30, poll=0.02, pass_every=0.2, report_every=0.2,
    )  # fmt: skip
    nothing: Any = None  # the job, the vault and the cloud: not used with no volumes and no parent
    run = flow.SnapshotRun(
        job=nothing, snap=SimpleNamespace(id="s1"), workload_id="w1", repo=nothing, connect=lambda: nothing,
        prev=None, prev_vms={}, last_vms={},
        progress=vm_runner.VmProgress(lambda percent, message: messages.append(message), 1), slots=slots,
    )  # fmt: skip
    monkeypatch.setattr(flow.SnapshotRun, "_detached_volumes", lambda self, *a: [])
    return run, dm, messages


def test_a_vm_transfer_waits_for_its_hosts_slot_holds_it_and_gives_it_back(
    snapshot_run: tuple[flow.SnapshotRun, Datamover, list[str]],
) -> None:
    run, dm, messages = snapshot_run
    # Another worker's transfer holds cmp1's only slot.
    api.request(
        "other000-0000-0000-0000-000000000000", job_kind="restore", job_id="r9", project_id="q", host="cmp1",
        target="/v", worker="w2", now=utcnow(), lease=600,
    )  # fmt: skip
    api.grant_pass(Limits(per_host=1), utcnow())
    result: list[dict[str, Any]] = []
    thread = threading.Thread(
        target=lambda: result.append(run.snapshot_vm(0, SimpleNamespace(vm_id="vm1", vm_name="web")))
    )
    thread.start()
    deadline = threading.Event()
    for _ in range(1500):
        if any("waiting for a transfer slot" in m for m in messages):
            break
        deadline.wait(0.02)
    assert "VM web (vm1): waiting for a transfer slot (host cmp1: 1 of 1 busy)" in messages, messages
    api.release("other000-0000-0000-0000-000000000000", Limits(per_host=1), utcnow())
    dm.go.set()
    thread.join(30)
    assert result and result[0]["definition"]["host"] == "cmp1"
    assert dm.seen_running == ["running"]  # the VM's transfer started inside its slot, alone on cmp1
    assert api.listing() == []  # and gave it back


def test_a_transfer_that_fails_to_start_gives_its_slot_back(
    snapshot_run: tuple[flow.SnapshotRun, Datamover, list[str]],
) -> None:
    run, dm, _messages = snapshot_run
    dm.fail_start = True
    with pytest.raises(flow.VmFailed, match="no agent"):
        run.snapshot_vm(0, SimpleNamespace(vm_id="vm1", vm_name="web"))
    assert api.listing() == []
