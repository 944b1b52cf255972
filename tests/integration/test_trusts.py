"""Keystone trusts against devcloud's Keystone: a scheduled run acts as the demo user through the trust
T4O got when the schedule was set, and fails with a clear message once demo revokes it."""

from __future__ import annotations

import contextlib
import datetime as dt
import signal
import time
import uuid
from typing import Any

import openstack
import openstack.config
import pytest

from demo.services import T4OServices
from t4o.common.context import RequestContext
from t4o.cron.clock import ManualClock
from t4o.cron.manager import CronManager
from t4o.db import api as db
from t4o.db import policy_api, states
from t4o.db import policy_models as pm
from t4o.openstack import keystone_trusts as kt
from t4o.policies import trusts
from tests.fixtures.devcloud import Devcloud, use_devcloud_trustee

SERIAL = "f82ce76f-17fe-438b-aa37-7a023058e50d"


@pytest.fixture
def trust_conf(t4o_conf: Any, devcloud: Devcloud) -> Any:
    return use_devcloud_trustee(t4o_conf, devcloud)


def test_a_scheduled_run_acts_as_the_owner_through_the_trust(trust_conf: Any, devcloud: Devcloud) -> None:
    demo = devcloud.connection("devcloud-demo")
    demo_user, demo_project = demo.current_user_id, demo.current_project_id
    # What the API does when demo enables a schedule: a trust from demo's own token.
    api_ctx = RequestContext(user_id=demo_user, project_id=demo_project, auth_token=demo.auth_token)
    trust_id = trusts.ensure_trust(trust_conf, api_ctx)
    assert trusts.ensure_trust(trust_conf, api_ctx) == trust_id  # a working trust is reused

    wl = db.workload_create(
        {
            "project_id": demo_project,
            "user_id": demo_user,
            "workload_type_id": SERIAL,
            "status": states.AVAILABLE,
            "jobschedule": {"enabled": True, "start_date": "01/01/2026", "interval": "1 hr"},
        },
        [{"vm_id": "vm-trust-test", "vm_name": "vm"}],
    )
    seen: list[tuple[str, str, list[str]]] = []

    def fire(ctx: Any, workload_id: str, body: dict[str, Any], full: bool) -> Any:
        # The job's token works at Nova as demo: list demo's servers with it.
        conn = openstack.connection.Connection(
            session=kt.trust_session(trust_conf, trust_id), region_name="RegionOne"
        )
        names = [s.name for s in conn.compute.servers()]
        seen.append((ctx.user_id, ctx.project_id, names))
        return db.snapshot_create(workload_id, ctx.project_id, {"user_id": ctx.user_id, "name": body["name"]})

    clock = ManualClock(dt.datetime(2026, 1, 1, 0, 1, tzinfo=dt.UTC))
    manager = CronManager(trust_conf, clock=clock, fire=fire, vault=lambda: None)
    (snap_id,) = manager.tick()
    assert [(u, p) for u, p, _ in seen] == [(demo_user, demo_project)]
    assert sorted(seen[0][2]) == sorted(s.name for s in demo.compute.servers())
    assert db.snapshot_get(snap_id, demo_project).user_id == demo_user
    db.job_claim("snapshot", snap_id, "worker")
    db.job_finish("snapshot", snap_id, states.AVAILABLE)

    # demo revokes the trust: the next run fails and says why.
    kt.delete_trust(demo.session, trust_id)
    clock.advance(dt.timedelta(hours=1))
    assert manager.tick() == []
    runs = policy_api.run_list(wl.id)
    assert [r.status for r in runs] == [pm.RUN_COMPLETED, pm.RUN_FAILED]
    assert runs[1].message.startswith(f"Trust {trust_id} was revoked or has expired")
    assert len(seen) == 1


def test_a_cron_fired_snapshot_completes_in_the_worker_through_the_trust(
    devcloud: Devcloud, t4o_services: T4OServices
) -> None:
    """The whole path as processes: demo sets a schedule through the API (which takes the trust), a real
    workloadmgr-cron fires the run with a token of the trust, and the workloads worker, which cannot
    exchange a trust-scoped token, authenticates through the trust again and completes the snapshot."""
    demo = devcloud.connection("devcloud-demo")
    token, project = demo.auth_token, demo.current_project_id
    flavor = demo.compute.find_flavor("devcloud.tiny", ignore_missing=False)
    image = demo.image.find_image("devcloud-tiny", ignore_missing=False)
    server = demo.compute.create_server(
        name=f"t4o-trust-{uuid.uuid4().hex[:6]}", flavor_id=flavor.id, image_id=image.id, networks="none"
    )
    workload_id = None
    try:
        demo.compute.wait_for_server(server, wait=300)
        start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)  # due at once, well within misfire grace
        schedule = {
            "enabled": True,
            "start_date": start.strftime("%m/%d/%Y"),
            "start_time": start.strftime("%H:%M"),
            "timezone": "UTC",
            "interval": "24 hr",
        }
        body = {
            "workload": {
                "name": "trust-it",
                "instances": [{"instance-id": server.id}],
                "jobschedule": schedule,
            }
        }
        workload_id = t4o_services.request("POST", "/workloads", token, project, json=body)["workload"]["id"]

        t4o_services.start_one("workloadmgr-cron")
        deadline = time.monotonic() + 120
        runs: list[dict[str, Any]] = []
        while not any(r.get("snapshot_id") for r in runs):
            assert time.monotonic() < deadline, (
                f"cron fired no run: {runs}\n{t4o_services.log('workloadmgr-cron')[-3000:]}"
            )
            time.sleep(1)
            runs = t4o_services.request("GET", f"/workloads/{workload_id}/scheduled_runs", token, project)[
                "scheduled_runs"
            ]
        snap_id = next(r["snapshot_id"] for r in runs if r.get("snapshot_id"))
        job = t4o_services.wait_job("snapshot", snap_id, token, project, timeout=600)
        assert job["status"] == "available", job
        assert job["user_id"] == demo.current_user_id
        assert "Using trust-scoped token" not in t4o_services.log("workloadmgr-workloads")
    finally:
        if "workloadmgr-cron" in t4o_services.procs:
            t4o_services.kill("workloadmgr-cron", signal.SIGTERM)
        if workload_id is not None:
            with contextlib.suppress(Exception):
                t4o_services.request("DELETE", f"/workloads/{workload_id}", token, project)
        demo.compute.delete_server(server.id, ignore_missing=True)


def test_trusts_through_the_api(trust_conf: Any, devcloud: Devcloud, t4o_services: T4OServices) -> None:
    """``POST /trusts`` delegates demo's role to the service user in Keystone, keeps it as the trust the
    schedules use, shows it, and ``DELETE /trusts/{name}`` revokes it in Keystone."""
    demo = devcloud.connection("devcloud-demo")
    token, project, user = str(demo.auth_token), str(demo.current_project_id), str(demo.current_user_id)
    keystone: Any = demo.identity  # the v3 proxy: trusts are a v3 API

    def call(method: str, path: str, **kwargs: Any) -> Any:
        return t4o_services.request(method, path, token, project, **kwargs)

    made = call("POST", "/trusts", json={"trusts": {"role_name": "member", "is_cloud_trust": False}})["trust"]
    (trust,) = made
    name, trust_id = trust["name"], trust["value"]
    try:
        assert (name, trust["user_id"], trust["project_id"]) == (f"trust-{user}", user, project)
        assert trust["metadata"]["role_name"] == "member" and trust["metadata"]["is_cloud_trust"] == "false"
        in_keystone = keystone.get_trust(trust_id)
        assert (in_keystone.trustor_user_id, in_keystone.project_id) == (user, project)
        assert in_keystone.trustee_user_id == kt.service_session(trust_conf).get_user_id()
        assert [r["name"] for r in in_keystone.roles] == ["member"] and in_keystone.is_impersonation
        kt.trust_session(trust_conf, trust_id)  # the service user gets a token through it

        assert trust_id in [t["value"] for t in call("GET", "/trusts")["trust"]]
        assert call("GET", f"/trusts/{name}")["trust"]["value"] == trust_id
        # One model: the trust is the setting the scheduled jobs read.
        setting = call("GET", f"/settings/{name}")["setting"]
        assert (setting["type"], setting["value"]) == (trusts.SETTING_TYPE, trust_id)

        # A second trust replaces the first, which is revoked.
        (again,) = call("POST", "/trusts", json={"trusts": {}})["trust"]
        assert again["name"] == name and again["value"] != trust_id
        with pytest.raises(kt.TrustError):
            kt.trust_session(trust_conf, trust_id)
        trust_id = again["value"]
    finally:
        call("DELETE", f"/trusts/{name}")
    with pytest.raises(kt.TrustError):
        kt.trust_session(trust_conf, trust_id)
    with pytest.raises(openstack.exceptions.NotFoundException):
        keystone.get_trust(trust_id)
    with pytest.raises(RuntimeError, match="answered 404"):
        call("GET", f"/trusts/{name}")
