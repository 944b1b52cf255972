"""`t4o.client` on its own (no command line) against a real all-in-one API."""

from __future__ import annotations

import json

import pytest

from t4o.client import AmbiguousName, ApiError, Client, JobFailed, NotFound
from tests.functional.cli.conftest import Cli


def client(cli: Cli) -> Client:
    return Client.from_endpoint(cli.cp.url, token=f"alice:{cli.project}:member,reader")


def test_workloads_snapshots_restores(cli: Cli) -> None:
    c = client(cli)
    assert c.http.base_url == f"{cli.cp.url}/v1/{cli.project}"
    vms = cli.cp.add_servers(cli.project, 3)
    parallel = c.workload_types.find("Parallel")
    wl = c.workloads.create(vms[:2], name="lib", workload_type_id=parallel.id, metadata={"k": "v"})
    assert wl.status == "available" and wl.workload_type_id == parallel.id
    assert [w.id for w in c.workloads.list()] == [wl.id]
    assert c.workloads.update(wl.id, description="changed").description == "changed"

    seen: list[int] = []
    snap = c.workloads.snapshot(wl.id, full=True, name="s1")
    done = c.wait_for_snapshot(snap.id, on_progress=lambda s: seen.append(s.progress_percent), interval=0.1)
    assert done.status == "available" and seen[-1] == 100 and len(seen) >= 2 and seen == sorted(seen)
    assert c.snapshots.find("s1").id == snap.id
    assert [s.id for s in c.snapshots.list(workload_id=wl.id)] == [snap.id]

    restore = c.restores.create(
        snap.id,
        "selective",
        name="r",
        options={"openstack": {"instances": [{"id": vms[0], "include": True}]}},
    )
    finished = c.wait_for_restore(restore.id, interval=0.1)
    assert [i["id"] for i in finished.instances] == [vms[0]]
    assert c.restores.list(snapshot_id=snap.id)[0].id == restore.id

    c.workloads.create([vms[2]], name="lib")
    with pytest.raises(AmbiguousName):
        c.workloads.find("lib")
    with pytest.raises(NotFound):
        c.snapshots.get("nope")
    with pytest.raises(ApiError) as info:
        c.snapshots.cancel(snap.id)
    assert info.value.status == 409


def test_failed_job_raises_with_its_message(cli: Cli) -> None:
    c = client(cli)
    vm = cli.cp.add_servers(cli.project, 1)[0]
    wl = c.workloads.create([vm])
    data = json.loads(cli.cp.servers_file.read_text())
    data[cli.project] = []
    cli.cp.servers_file.write_text(json.dumps(data))
    snap = c.workloads.snapshot(wl.id)
    with pytest.raises(JobFailed, match=f"Snapshot {snap.id} failed: .*{vm}") as info:
        c.wait_for_snapshot(snap.id, interval=0.1)
    assert info.value.job["status"] == "error"
