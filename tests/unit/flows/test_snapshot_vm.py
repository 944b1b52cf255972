"""One VM's part of a snapshot: read through the cloud layer, data moved by the datamover, result
recorded; the Cinder snapshots of detached volumes are removed whatever happens (cloud, datamover and
database replaced by stubs)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from t4o.datamover.client import TransferFailed, TransferRef
from t4o.openstack.cinder import Volume
from t4o.workloads.flows import config, vm_runner
from t4o.workloads.flows import snapshot as flow

VM = SimpleNamespace(vm_id="vm1", vm_name="web")
DEFINITION = {
    "server": {"name": "web"},
    "volumes": [{"id": "att", "target": "vdb", "volume_type": "nfs"}],
}


class Cinder:
    def __init__(self) -> None:
        self.taken: list[str] = []
        self.deleted: list[str] = []

    def volume(self, vid: str) -> Volume:
        return Volume(vid, "data", 1, "nfs", False, "nova", "", "available")

    def snapshots(self, volume_id: str) -> list[Any]:
        return []

    def create_snapshot(self, volume_id: str, name: str, description: str, timeout: float) -> str:
        self.taken.append(name)
        return f"cs-{volume_id}"

    def delete_snapshot(self, snapshot_id: str, timeout: float) -> None:
        self.deleted.append(snapshot_id)


class Datamover:
    specs: list[dict[str, Any]] = []
    fail = False

    def __init__(self, conf: Any) -> None:
        pass

    def start(self, kind: str, server_id: str, spec: dict[str, Any]) -> TransferRef:
        Datamover.specs.append(spec)
        return TransferRef("t1", "cmp1", server_id)

    def wait(self, ref: TransferRef, on_view: Any) -> dict[str, Any]:
        if Datamover.fail:
            raise TransferFailed("agent died")
        on_view({"bytes_done": 1, "bytes_total": 2})
        disk = {"size": 10, "read_bytes": 10, "new_bytes": 5}
        return {
            "result": {
                "consistency": "crash",
                "consistency_reason": "no agent",
                "checkpoint": "t4o-s1",
                "disks": [
                    {**disk, "target": "vda", "ref": "r1"},
                    {**disk, "target": "vdb", "ref": "r2"},
                    {**disk, "target": None, "ref": "r3", "attached": False, "volume_id": "det"},
                ],
            }
        }


@pytest.fixture
def run(t4o_conf: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[flow.SnapshotRun, Cinder, list[dict]]:
    config.ensure_registered(t4o_conf)
    cinder, recorded = Cinder(), []
    Datamover.specs, Datamover.fail = [], False
    monkeypatch.setattr(flow, "DatamoverClient", Datamover)
    monkeypatch.setattr(flow, "capture_server", lambda cloud, vm_id: dict(DEFINITION))
    monkeypatch.setattr(flow.targets, "spec_for_workload", lambda workload: {"url": "vault"})
    monkeypatch.setattr(flow.db, "snapshot_record_vm", lambda sid, rec: recorded.append(rec))
    last = SimpleNamespace(definition={"volumes": [{"id": "att"}, {"id": "det"}]})
    cloud: Any = SimpleNamespace(cinder=cinder)
    nothing: Any = None  # the job and the vault: not used by a VM's part without a previous snapshot
    run = flow.SnapshotRun(
        job=nothing, snap=SimpleNamespace(id="s1"), workload_id="w1", repo=nothing, connect=lambda: cloud,
        prev=None, prev_vms={}, last_vms={"vm1": last},
        progress=vm_runner.VmProgress(lambda percent, message: None, 1),
    )  # fmt: skip
    return run, cinder, recorded


def test_the_vm_is_read_moved_and_recorded(run: tuple[flow.SnapshotRun, Cinder, list[dict]]) -> None:
    snapshot_run, cinder, recorded = run
    record = snapshot_run.snapshot_vm(0, VM)
    (spec,) = Datamover.specs
    assert spec["volumes"] == [
        {"volume_id": "det", "snapshot_id": "cs-det", "parent": None, "metadata": {"volume_type": "nfs"}}
    ]
    assert spec["disk_metadata"] == {"vdb": {"volume_id": "att", "volume_type": "nfs"}}
    assert spec["parent_checkpoint"] is None and spec["checkpoint"] == "t4o-s1"
    assert spec["guest_hooks"] is None  # no hook in any metadata
    assert cinder.taken == ["t4o-s1-det"] and cinder.deleted == ["cs-det"]
    kinds = {d["ref"]: (d["kind"], d.get("volume_id")) for d in record["disks"]}
    assert kinds == {"r1": ("instance", None), "r2": ("volume", "att"), "r3": ("volume", "det")}
    definition = record["definition"]
    assert [v["id"] for v in definition["detached_volumes"]] == ["det"]
    assert (definition["host"], definition["transfer"]["id"], definition["consistency"]) == (
        "cmp1",
        "t1",
        "crash",
    )
    assert recorded == [record] and record["size"] == 30


def test_a_failed_transfer_still_removes_the_cinder_snapshots(
    run: tuple[flow.SnapshotRun, Cinder, list[dict]],
) -> None:
    snapshot_run, cinder, recorded = run
    Datamover.fail = True
    with pytest.raises(flow.VmFailed, match=r"VM web \(vm1\): the data transfer failed: agent died"):
        snapshot_run.snapshot_vm(0, VM)
    assert cinder.deleted == ["cs-det"] and recorded == []


def test_guest_hooks_from_metadata_go_to_the_agent_and_into_the_record(
    run: tuple[flow.SnapshotRun, Cinder, list[dict]], monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot_run, _, _ = run
    snapshot_run.workload_metadata = {"t4o_pre_freeze": "flush", "t4o_hook_timeout": "nope"}
    server = {"name": "web", "metadata": {"t4o_post_thaw": "sh -c 'echo resumed'"}}
    monkeypatch.setattr(flow, "capture_server", lambda cloud, vm_id: {**DEFINITION, "server": server})
    record = snapshot_run.snapshot_vm(0, VM)
    (spec,) = Datamover.specs
    assert spec["guest_hooks"] == {
        "pre_freeze": {"command": "flush", "argv": ["flush"], "source": "workload"},
        "post_thaw": {
            "command": "sh -c 'echo resumed'",
            "argv": ["sh", "-c", "echo resumed"],
            "source": "vm",
        },
        "timeout": 60,
        "on_failure": "crash",
        "output_limit": 4096,
    }
    # the stub agent ran no hook: the settings are kept, with no result
    assert record["definition"]["guest_hooks"] == {"timeout": 60, "on_failure": "crash", "results": []}
    assert snapshot_run.notes == [
        "VM web (vm1): workload metadata t4o_hook_timeout ignored: 'nope' is not a whole number of seconds "
        "from 1 to 3600"
    ]
