"""A Parallel workload of two devcloud VMs: their disks are moved at the same time (the two transfers'
intervals overlap); moved to a Serial workload, the same VMs go one after the other."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from openstack.connection import Connection

from demo.guest import write_guest
from demo.services import T4OServices
from t4o.workloads.flows.vm_runner import PARALLEL_TYPE_ID, SERIAL_TYPE_ID
from tests.fixtures.devcloud import Devcloud

MiB = 1 << 20


@pytest.fixture(scope="module")
def servers(devcloud: Devcloud) -> Iterator[tuple[Connection, list[str]]]:
    conn = devcloud.connection("devcloud-demo")
    flavor = conn.compute.find_flavor("devcloud.tiny", ignore_missing=False)
    image = conn.image.find_image("devcloud-tiny", ignore_missing=False)
    tag = uuid.uuid4().hex[:6]
    ids = [
        conn.compute.create_server(
            name=f"t4o-it-par-{tag}-{i}", flavor_id=flavor.id, image_id=image.id, networks="none"
        ).id
        for i in range(2)
    ]
    try:
        for sid in ids:
            conn.compute.wait_for_server(conn.compute.get_server(sid), wait=300)
        for i, sid in enumerate(ids):  # enough incompressible data that each transfer takes seconds
            write_guest(devcloud.libvirt_uri, sid, 0, 160 * MiB, 40 + i)
        yield conn, ids
    finally:
        for sid in ids:
            conn.compute.delete_server(sid, ignore_missing=True)
        for sid in ids:
            with contextlib.suppress(Exception):
                conn.compute.wait_for_delete(conn.compute.get_server(sid), wait=120)


def transfers(
    services: T4OServices, conn: Connection, type_id: str, vms: list[str]
) -> tuple[dict[str, Any], list[tuple[dt.datetime, dt.datetime]]]:
    token, project = conn.auth_token, conn.current_project_id
    body = {
        "workload": {
            "name": f"it-{type_id[:4]}",
            "workload_type_id": type_id,
            "instances": [{"instance-id": s} for s in vms],
        }
    }
    wl = services.request("POST", "/workloads", token, project, json=body)["workload"]
    snap = services.request(
        "POST", f"/workloads/{wl['id']}", token, project, params={"full": "1"}, json={"snapshot": {}}
    )["snapshot"]
    job = services.wait_job("snapshot", snap["id"], token, project)
    assert job["status"] == "available", job["error_msg"]
    shown = services.request("GET", f"/snapshots/{snap['id']}", token, project)["snapshot"]
    spans = [
        (
            dt.datetime.fromisoformat(i["metadata"]["transfer"]["started_at"]),
            dt.datetime.fromisoformat(i["metadata"]["transfer"]["finished_at"]),
        )
        for i in shown["instances"]
    ]
    # the VMs go to the next workload (a VM belongs to one workload at most)
    services.request("DELETE", f"/workloads/{wl['id']}", token, project, params={"database_only": "True"})
    return shown, spans


def test_parallel_workload_moves_its_vms_at_the_same_time_and_serial_one_by_one(
    t4o_services: T4OServices, servers: tuple[Connection, list[str]]
) -> None:
    conn, vms = servers
    snap, spans = transfers(t4o_services, conn, PARALLEL_TYPE_ID, vms)
    assert len(spans) == 2 and all(start < end for start, end in spans)
    overlap = min(end for _, end in spans) - max(start for start, _ in spans)
    shortest = min(end - start for start, end in spans)
    t0 = min(start for start, _ in spans)
    offsets = [((s - t0).total_seconds(), (e - t0).total_seconds()) for s, e in spans]
    print(f"Parallel: transfers (start, end) in s: {offsets}")
    # each transfer ran at least half of its time beside the other
    assert overlap > shortest / 2, (spans, snap["progress_msg"])
    assert "2 at a time" in snap["progress_msg"], snap["progress_msg"]

    _snap, spans = transfers(t4o_services, conn, SERIAL_TYPE_ID, vms)
    first, second = sorted(spans)
    print(f"Serial: first {first[1] - first[0]}, second began {second[0] - first[1]} after the first ended")
    assert second[0] >= first[1], spans  # the second started after the first ended
