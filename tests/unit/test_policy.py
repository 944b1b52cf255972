"""t4o.common.policy: defaults in code, overrides from a policy file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from t4o.common import errors, policy
from t4o.common.context import RequestContext


def ctx(project: str, roles: list[str]) -> RequestContext:
    return RequestContext(user_id="u", project_id=project, roles=roles)


def test_admin_detection(t4o_conf: Any) -> None:
    assert policy.is_admin(ctx("p", ["admin"]))
    assert not policy.is_admin(ctx("p", ["member"]))


def test_owner_rules(t4o_conf: Any) -> None:
    policy.authorize(ctx("p1", ["member"]), "workload:get", "p1")
    with pytest.raises(errors.Forbidden):
        policy.authorize(ctx("p1", ["member"]), "workload:get", "p2")
    policy.authorize(ctx("p1", ["admin"]), "workload:get", "p2")


ADMIN_ONLY = (
    "workload:get_all_projects",
    "snapshot:get_all_projects",
    "global_job_scheduler:set",
    "workload_policy:get_all",
    "workload_policy:create",
    "workload_policy:update",
    "workload_policy:delete",
    "workload_policy:assign",
    "project_quota:create",
    "project_quota:update",
    "project_quota:delete",
    "metrics:get",
    "node:get_all",
    "node:update",
)


def test_admin_only_rules(t4o_conf: Any) -> None:
    for rule in ADMIN_ONLY:
        with pytest.raises(errors.Forbidden):
            policy.authorize(ctx("p1", ["member"]), rule)
        policy.authorize(ctx("p1", ["admin"]), rule)


def test_every_rule_is_documented_with_an_operation() -> None:
    names = [r.name for r in policy.API_RULES]
    assert len(names) == len(set(names))
    assert all(r.operations for r in policy.API_RULES)


def test_policy_file_overrides_a_default(t4o_conf: Any, tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text('"workload:create": "role:backup_operator"\n')
    t4o_conf.set_override("policy_file", str(path), group="oslo_policy")
    try:
        policy.reset()
        with pytest.raises(errors.Forbidden):
            policy.authorize(ctx("p1", ["member"]), "workload:create")
        policy.authorize(ctx("p1", ["backup_operator"]), "workload:create")
    finally:
        t4o_conf.clear_override("policy_file", group="oslo_policy")
        policy.reset()


def test_project_scoped_rules_compare_the_target_project(t4o_conf: Any) -> None:
    for rule in ("workload_policy:get_assigned", "project_quota:get"):
        policy.authorize(ctx("p1", ["member"]), rule, "p1")
        with pytest.raises(errors.Forbidden, match=rule):
            policy.authorize(ctx("p1", ["member"]), rule, "p2")
    assert policy.check(ctx("p1", ["member"]), "workload_policy:get")
    assert not policy.check(ctx("p1", ["member"]), "workload_policy:get_all")


def test_policy_file_opens_an_admin_call_to_a_role(t4o_conf: Any, tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text('"workload_policy:get_all": "role:auditor"\n"project_quota:delete": "!"\n')
    t4o_conf.set_override("policy_file", str(path), group="oslo_policy")
    try:
        policy.reset()
        assert policy.check(ctx("p1", ["auditor"]), "workload_policy:get_all")
        assert not policy.check(ctx("p1", ["admin"]), "workload_policy:get_all")
        with pytest.raises(errors.Forbidden):
            policy.authorize(ctx("p1", ["admin"]), "project_quota:delete")
        policy.authorize(ctx("p1", ["admin"]), "project_quota:update")  # the others keep their default
    finally:
        t4o_conf.clear_override("policy_file", group="oslo_policy")
        policy.reset()
