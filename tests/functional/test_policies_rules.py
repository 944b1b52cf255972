"""A policy.yaml changes who may call the policy, quota and node operations of a real ``t4o all-in-one``.

The same calls answer differently under the defaults (tests/functional/test_policies_api.py): there a
member sees only the policies assigned to the project and cannot list nodes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.fixtures.control_plane import ControlPlane, admin, member

POLICY_YAML = """\
# Members may read every workload policy and the service nodes; only admins see the quota kinds.
"workload_policy:get_all": "role:member"
"node:get_all": "role:member"
"project_quota_type:get": "role:admin"
"""


@pytest.fixture(scope="module")
def overridden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    workdir = tmp_path_factory.mktemp("aio-policy")
    policy_file = workdir / "policy.yaml"
    policy_file.write_text(POLICY_YAML)
    cp = ControlPlane(workdir, {"oslo_policy": {"policy_file": str(policy_file)}})
    try:
        cp.start_all_in_one()
        yield cp
    finally:
        cp.stop()


def test_overrides_grant_and_restrict(overridden: ControlPlane) -> None:
    cp = overridden
    proj, other = "p" + uuid.uuid4().hex[:8], "p" + uuid.uuid4().hex[:8]
    body = {"workload_policy": {"display_name": "elsewhere", "field_values": {"interval": "12 hr"}}}
    resp = cp.request("POST", "/workload_policy/", proj, admin(proj), json=body)
    assert resp.status_code == 200, resp.text
    pol = resp.json()["policy"]
    assign = {"policy": {"add_projects": [other]}}
    assert cp.request("POST", f"/workload_policy/{pol['id']}/assign", proj, admin(proj), json=assign).ok

    # Granted: a member of proj lists and shows a policy assigned only to another project.
    listed = cp.request("GET", "/workload_policy/", proj, member(proj))
    assert listed.status_code == 200 and pol["id"] in [p["id"] for p in listed.json()["policy_list"]]
    shown = cp.request("GET", f"/workload_policy/{pol['id']}", proj, member(proj))
    assert shown.status_code == 200 and shown.json()["policy"]["project_list"] == [other]
    nodes = cp.request("GET", "/t4o_nodes", proj, member(proj))
    assert nodes.status_code == 200 and nodes.json()["nodes"]

    # Restricted: a member may no longer list the quota kinds; an admin still may.
    resp = cp.request("GET", "/project_quota_types", proj, member(proj))
    assert resp.status_code == 403 and "project_quota_type:get" in resp.text
    assert cp.request("GET", "/project_quota_types", proj, admin(proj)).status_code == 200

    # Untouched rules keep their defaults.
    assert cp.request("GET", "/t4o_metrics", proj, member(proj)).status_code == 403
    resp = cp.request("POST", "/workload_policy/", proj, member(proj), json=body)
    assert resp.status_code == 403 and "workload_policy:create" in resp.text
