"""Quota checks and policy application on a real SQLite database."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from t4o.common import errors
from t4o.common.context import RequestContext
from t4o.db import api as db
from t4o.db import policy_api, states
from t4o.db.api import Page
from t4o.policies import quotas
from t4o.policies import workload_policies as wp

SERIAL = "f82ce76f-17fe-438b-aa37-7a023058e50d"
ADMIN = RequestContext(user_id="root", project_id="admin", is_admin=True, roles=["admin"], overwrite=False)
MEMBER = RequestContext(user_id="alice", project_id="p1", is_admin=False, roles=["member"], overwrite=False)
WORKLOADS = quotas.QUOTA_TYPES[0]["id"]
VMS = quotas.QUOTA_TYPES[2]["id"]


def workload(project: str, vm: str) -> str:
    values = {"project_id": project, "workload_type_id": SERIAL, "status": states.AVAILABLE}
    return db.workload_create(values, [{"vm_id": vm, "vm_name": vm}]).id


def test_quota_check_refuses_beyond_the_limit(t4o_conf: Any) -> None:
    quotas.check("p1", "workloads")  # no limit set: anything goes
    policy_api.quota_upsert("p1", WORKLOADS, 1, 1)
    quotas.check("p1", "workloads")
    workload("p1", "vm-1")
    with pytest.raises(errors.Forbidden, match="Quota exceeded: project p1 may have 1 Workloads; it has 1"):
        quotas.check("p1", "workloads")
    quotas.check("p2", "workloads")  # other projects are not limited by it
    policy_api.quota_upsert("p1", VMS, 3, 2)
    quotas.check("p1", "vms", adding=2)
    with pytest.raises(errors.Forbidden, match="this request adds 3"):
        quotas.check("p1", "vms", adding=3)
    policy_api.quota_upsert("p1", WORKLOADS, -1, -1)
    quotas.check("p1", "workloads", adding=100)


def test_quota_items_are_validated() -> None:
    assert quotas.parse_item({"quota_type_id": WORKLOADS, "allowed_value": "5"}) == (WORKLOADS, 5, 5)
    for item, message in [
        ({"quota_type_id": "x", "allowed_value": 1}, "Unknown quota_type_id x"),
        ({"quota_type_id": WORKLOADS, "allowed_value": "lots"}, "allowed_value must be an integer"),
        ({"quota_type_id": WORKLOADS, "allowed_value": -5}, "must be -1 \\(unlimited\\) or more"),
        ({"quota_type_id": WORKLOADS, "allowed_value": 1, "high_watermark": 2}, "must not exceed"),
    ]:
        with pytest.raises(errors.BadRequest, match=message):
            quotas.parse_item(item)


def test_a_policy_decides_the_schedule_fields(t4o_conf: Any) -> None:
    fields = {
        "interval": "2 hr",
        "retention_policy_type": "Number of Snapshots to Keep",
        "retention_policy_value": 3,
    }
    with pytest.raises(errors.Forbidden, match="workload_policy:create"):
        wp.create(MEMBER, {"display_name": "silver", "field_values": fields})
    pol = wp.create(ADMIN, {"display_name": "silver", "field_values": fields})
    with pytest.raises(errors.BadRequest, match="not assigned to project p1"):
        wp.apply_policy("p1", {"enabled": True}, pol.id)
    policy_api.policy_assign(pol.id, ["p1"], [])
    assert [p.id for p in wp.visible(MEMBER)] == [pol.id]
    merged = wp.apply_policy("p1", {"enabled": True, "start_time": "01:00", "interval": "2 hr"}, pol.id)
    assert merged == {"enabled": True, "start_time": "01:00", **fields}
    with pytest.raises(errors.BadRequest, match="follows policy silver; it cannot set interval"):
        wp.apply_policy("p1", {"enabled": True, "interval": "1 hr"}, pol.id)


def test_a_policy_in_use_cannot_be_deleted(t4o_conf: Any) -> None:
    pol = wp.create(ADMIN, {"display_name": "bronze", "field_values": {"interval": "24"}})
    wid = workload("p1", "vm-9")
    db.workload_update(wid, None, {"metadata_": {"policy_id": pol.id}}, None)
    with pytest.raises(errors.Conflict, match="is used by 1 workload"):
        policy_api.policy_delete(pol.id)
    db.workload_delete(wid, None)
    policy_api.policy_delete(pol.id)
    with pytest.raises(errors.NotFound):
        policy_api.policy_get(pol.id)


def test_a_changed_policy_is_followed_by_its_workloads(t4o_conf: Any) -> None:
    pol = wp.create(
        ADMIN, {"display_name": "gold", "field_values": {"interval": "4 hr", "fullbackup_interval": 6}}
    )
    wid = workload("p1", "vm-3")
    schedule = {"enabled": True, "start_time": "03:00", "interval": "4 hr", "fullbackup_interval": 6}
    db.workload_update(wid, None, {"metadata_": {"policy_id": pol.id}, "jobschedule": schedule}, None)
    other = workload("p1", "vm-4")  # no policy: untouched
    wp.update(ADMIN, pol.id, {"field_values": {"interval": "8 hr"}})
    assert db.workload_get(wid, None).jobschedule == {
        "enabled": True,
        "start_time": "03:00",
        "interval": "8 hr",
    }
    assert db.workload_get(other, None).jobschedule == {}
    with pytest.raises(errors.Forbidden, match="workload_policy:update"):
        wp.update(MEMBER, pol.id, {"field_values": {"interval": "1 hr"}})


def test_scheduled_runs_and_nodes_page_by_keyset(t4o_conf: Any) -> None:
    wid = workload("p1", "vm-5")
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    ids = [policy_api.claim_run(wid, t0 + dt.timedelta(hours=h), "cron-1", "fired") for h in range(5)]
    first = policy_api.run_list(wid, Page(limit=2, sort_key="scheduled_time", sort_dir="asc"))
    assert [r.id for r in first] == ids[:2]
    rest = policy_api.run_list(wid, Page(limit=10, marker=ids[1], sort_key="scheduled_time", sort_dir="asc"))
    assert [r.id for r in rest] == ids[2:]
    newest = policy_api.run_list(wid, Page(limit=2, sort_key="scheduled_time", sort_dir="desc"))
    assert [r.id for r in newest] == [ids[4], ids[3]]

    for host in ("n1", "n2", "n3"):
        db.service_heartbeat(host, "workloadmgr-workloads", "workloads")
    page = policy_api.node_list(Page(limit=2, sort_key="host", sort_dir="asc"))
    assert [n.host for n in page] == ["n1", "n2"]
    after = policy_api.node_list(Page(limit=2, marker=str(page[-1].id), sort_key="host", sort_dir="asc"))
    assert [n.host for n in after] == ["n3"]
    for marker in ("x", "999"):
        with pytest.raises(errors.BadRequest, match=f"Marker {marker} not found"):
            policy_api.node_list(Page(marker=marker))
