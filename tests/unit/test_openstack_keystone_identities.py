"""t4o.openstack.keystone.missing_identities: which projects and users Keystone no longer has."""

from __future__ import annotations

from typing import Any

import pytest
from openstack import exceptions as sdk_exc

from t4o.common import errors
from t4o.common.context import RequestContext
from t4o.openstack import keystone
from t4o.openstack.nova import NovaCloud


class Identity:
    def __init__(self, projects: set[str], users: set[str]) -> None:
        self.projects, self.users = projects, users

    def get_project(self, pid: str) -> Any:
        if pid not in self.projects:
            raise sdk_exc.NotFoundException(f"no project {pid}")
        return {"id": pid}

    def get_user(self, uid: str) -> Any:
        if uid not in self.users:
            raise sdk_exc.NotFoundException(f"no user {uid}")
        return {"id": uid}


def test_missing_projects_and_users() -> None:
    identity = Identity({"p1"}, {"u1"})
    got = keystone.missing_identities(identity, {"p1", "p2"}, {"u1", "u2"})  # type: ignore[arg-type]
    assert got == ({"p2"}, {"u2"})


def test_other_errors_are_not_taken_for_missing() -> None:
    class Broken(Identity):
        def get_project(self, pid: str) -> Any:
            raise sdk_exc.HttpException("503")

    with pytest.raises(sdk_exc.HttpException):
        keystone.missing_identities(Broken(set(), set()), {"p1"}, set())  # type: ignore[arg-type]


def test_a_token_without_identity_endpoint_is_a_clear_error() -> None:
    ctx = RequestContext(user_id="root", project_id="admin", roles=["admin"], service_catalog=[])
    with pytest.raises(errors.BadRequest, match="no identity endpoint"):
        NovaCloud("public", None).missing_identities(ctx, {"p1"}, set())
