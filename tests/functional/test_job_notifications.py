"""Start, end and error notifications of manual snapshots and restores, sent by a real ``t4o all-in-one``
worker through RabbitMQ and received here by an oslo.messaging notification listener."""

from __future__ import annotations

import json
import queue
import uuid
from collections.abc import Iterator
from typing import Any

import oslo_messaging as messaging
import pytest
from oslo_config import cfg

from tests.fixtures.control_plane import ControlPlane, ensure_server, member

RABBIT = "rabbit://guest:guest@127.0.0.1:5672/"


class Collector:
    def __init__(self) -> None:
        self.events: queue.Queue[tuple[str, str, dict[str, Any]]] = queue.Queue()

    def info(self, ctxt: Any, publisher_id: str, event_type: str, payload: Any, metadata: Any) -> None:
        self.events.put(("INFO", event_type, payload))

    def error(self, ctxt: Any, publisher_id: str, event_type: str, payload: Any, metadata: Any) -> None:
        self.events.put(("ERROR", event_type, payload))

    def next_for(self, job_id: str, timeout: float = 30) -> tuple[str, str, dict[str, Any]]:
        while True:
            prio, event, payload = self.events.get(timeout=timeout)
            if payload.get("job_id") == job_id:
                return prio, event, payload


@pytest.fixture(scope="module")
def notified(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ControlPlane, Collector]]:
    ensure_server("rabbitmq")
    topic = f"t4o-test-jobs-{uuid.uuid4().hex[:8]}"
    cp = ControlPlane(
        tmp_path_factory.mktemp("notify"),
        {"oslo_messaging_notifications": {"driver": "messagingv2", "transport_url": RABBIT, "topics": topic}},
    )
    conf = cfg.ConfigOpts()
    transport = messaging.get_notification_transport(conf, url=RABBIT)
    collector = Collector()
    listener = messaging.get_notification_listener(
        transport, [messaging.Target(topic=topic)], [collector], executor="threading"
    )
    listener.start()
    try:
        cp.start_all_in_one()
        yield cp, collector
    finally:
        cp.stop()
        listener.stop()
        listener.wait()
        transport.cleanup()


def test_snapshot_and_restore_are_notified(notified: tuple[ControlPlane, Collector]) -> None:
    cp, collector = notified
    proj = "n" + uuid.uuid4().hex[:8]
    (vm,) = cp.add_servers(proj, 1)
    wl = {"workload": {"name": "n", "instances": [{"instance-id": vm}]}}
    wid = cp.request("POST", "/workloads", proj, member(proj), json=wl).json()["workload"]["id"]

    resp = cp.request("POST", f"/workloads/{wid}", proj, member(proj), json={"snapshot": {"name": "s"}})
    sid = resp.json()["snapshot"]["id"]
    assert cp.wait_job("snapshot", sid, proj, member(proj))["status"] == "available"
    prio, event, payload = collector.next_for(sid)
    assert (prio, event) == ("INFO", "t4o.snapshot.start")
    assert (payload["workload_id"], payload["project_id"], payload["name"]) == (wid, proj, "s")
    prio, event, payload = collector.next_for(sid)
    assert (prio, event, payload["status"]) == ("INFO", "t4o.snapshot.end", "available")

    resp = cp.request("POST", f"/snapshots/{sid}", proj, member(proj), json={"restore": {"name": "r"}})
    assert resp.status_code == 202, resp.text
    rid = resp.json()["restore"]["id"]
    assert cp.wait_job("restore", rid, proj, member(proj))["status"] == "available"
    assert collector.next_for(rid)[1] == "t4o.restore.start"
    prio, event, payload = collector.next_for(rid)
    assert (event, payload["workload_id"], payload["status"]) == ("t4o.restore.end", wid, "available")


def test_a_failed_snapshot_is_notified_as_error(notified: tuple[ControlPlane, Collector]) -> None:
    cp, collector = notified
    proj = "n" + uuid.uuid4().hex[:8]
    (vm,) = cp.add_servers(proj, 1)
    wl = {"workload": {"name": "gone", "instances": [{"instance-id": vm}]}}
    wid = cp.request("POST", "/workloads", proj, member(proj), json=wl).json()["workload"]["id"]
    cloud = json.loads(cp.servers_file.read_text())
    cloud[proj] = []  # the VM was deleted from the cloud after it was protected
    cp.servers_file.write_text(json.dumps(cloud))

    resp = cp.request("POST", f"/workloads/{wid}", proj, member(proj), json={"snapshot": {"name": "x"}})
    sid = resp.json()["snapshot"]["id"]
    job = cp.wait_job("snapshot", sid, proj, member(proj))
    assert job["status"] == "error"
    assert collector.next_for(sid)[1] == "t4o.snapshot.start"
    prio, event, payload = collector.next_for(sid)
    assert (prio, event, payload["status"]) == ("ERROR", "t4o.snapshot.error", "error")
    assert payload["error_msg"] == job["error_msg"] and payload["workload_id"] == wid
