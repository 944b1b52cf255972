"""The hooks the workloads API calls: validation, policy, quotas (real SQLite; no Keystone: noauth)."""

from __future__ import annotations

from typing import Any

import pytest

from t4o.common import errors
from t4o.common.context import RequestContext
from t4o.db import api as db
from t4o.db import policy_api, states
from t4o.policies import hooks, quotas
from t4o.policies import workload_policies as wp

SERIAL = "f82ce76f-17fe-438b-aa37-7a023058e50d"
ADMIN = RequestContext(user_id="root", project_id="admin", is_admin=True, overwrite=False)
MEMBER = RequestContext(user_id="alice", project_id="p1", is_admin=False, overwrite=False)


@pytest.fixture
def conf(t4o_conf: Any) -> Any:
    t4o_conf.set_override("auth_strategy", "noauth")
    return t4o_conf


def test_create_validates_the_schedule(conf: Any) -> None:
    assert hooks.on_workload_create(MEMBER, {}, 1) == {"enabled": False}
    with pytest.raises(errors.BadRequest, match=r"jobschedule\.interval must be a number of hours"):
        hooks.on_workload_create(MEMBER, {"jobschedule": {"enabled": True, "interval": "soon"}}, 1)


def test_create_follows_the_policy(conf: Any) -> None:
    pol = wp.create(ADMIN, {"display_name": "gold", "field_values": {"interval": "6 hr"}})
    policy_api.policy_assign(pol.id, ["p1"], [])
    body = {"jobschedule": {"enabled": True, "start_time": "02:00"}, "metadata": {"policy_id": pol.id}}
    assert hooks.on_workload_create(MEMBER, body, 1) == {
        "enabled": True,
        "start_time": "02:00",
        "interval": "6 hr",
    }
    body["jobschedule"]["interval"] = "1 hr"
    with pytest.raises(errors.BadRequest, match="cannot set interval"):
        hooks.on_workload_create(MEMBER, body, 1)
    merged = {"enabled": False, "interval": "1 hr"}
    with pytest.raises(errors.BadRequest, match="cannot set interval"):
        hooks.on_schedule_change(MEMBER, "p1", merged, {"policy_id": pol.id})


def test_create_and_snapshot_respect_quotas(conf: Any) -> None:
    policy_api.quota_upsert("p1", quotas.QUOTA_TYPES[2]["id"], 2, 2)  # VMs
    hooks.on_workload_create(MEMBER, {}, 2)
    with pytest.raises(errors.Forbidden, match="may have 2 VMs; it has 0 and this request adds 3"):
        hooks.on_workload_create(MEMBER, {}, 3)
    policy_api.quota_upsert("p1", quotas.QUOTA_TYPES[1]["id"], 0, 0)  # Snapshots
    wid = db.workload_create(
        {"project_id": "p1", "workload_type_id": SERIAL, "status": states.AVAILABLE}, [{"vm_id": "v"}]
    ).id
    assert wid
    with pytest.raises(errors.Forbidden, match="may have 0 Snapshots"):
        hooks.on_snapshot("p1")
