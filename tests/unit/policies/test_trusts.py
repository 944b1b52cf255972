"""t4o.policies.trusts: the owner's trust id kept as a project setting, on a real SQLite database with
Keystone's answers replaced."""

from __future__ import annotations

from typing import Any

import pytest

from t4o.common.context import RequestContext
from t4o.db import api as db
from t4o.openstack import keystone_trusts
from t4o.policies import trusts

ALICE = RequestContext(user_id="alice", project_id="p1", auth_token="alice-token")


@pytest.fixture
def keystone(monkeypatch: pytest.MonkeyPatch, t4o_conf: Any) -> dict[str, Any]:
    """Trusts Keystone would create (numbered) and the ids it no longer accepts."""
    state: dict[str, Any] = {"created": [], "revoked": set()}
    keystone_trusts.ensure_registered(t4o_conf)

    def create_trust(conf: Any, owner: Any) -> str:
        state["created"].append(f"trust-{len(state['created']) + 1}")
        return str(state["created"][-1])

    def trust_session(conf: Any, trust_id: str) -> Any:
        if trust_id in state["revoked"]:
            raise keystone_trusts.TrustError(f"Trust {trust_id} was revoked")
        return object()

    monkeypatch.setattr(keystone_trusts, "create_trust", create_trust)
    monkeypatch.setattr(keystone_trusts, "trust_session", trust_session)
    monkeypatch.setattr(keystone_trusts, "owner_session", lambda conf, ctx: object())
    return state


def test_a_trust_is_created_once_and_reused_while_it_works(t4o_conf: Any, keystone: dict[str, Any]) -> None:
    assert trusts.owner_trust_id("p1", "alice") is None
    first = trusts.ensure_trust(t4o_conf, ALICE)
    assert trusts.ensure_trust(t4o_conf, ALICE) == first == "trust-1"
    assert keystone["created"] == ["trust-1"]
    assert trusts.owner_trust_id("p1", "alice") == first
    (setting,) = db.setting_list("p1")
    assert (setting.category, setting.type, setting.is_hidden) == ("identity", "trust_id", True)
    assert trusts.owner_trust_id("p1", "bob") is None
    assert trusts.owner_trust_id("p2", "alice") is None


def test_a_revoked_trust_is_replaced(t4o_conf: Any, keystone: dict[str, Any]) -> None:
    old = trusts.ensure_trust(t4o_conf, ALICE)
    keystone["revoked"].add(old)
    new = trusts.ensure_trust(t4o_conf, ALICE)
    assert new != old
    assert trusts.owner_trust_id("p1", "alice") == new


def test_only_trust_settings_of_the_owner_count(t4o_conf: Any) -> None:
    db.setting_upsert(
        "p1",
        "admin",
        [
            {"name": "not-a-trust", "value": "x", "category": "identity", "type": "other"},
            {
                "name": "for-bob",
                "value": "trust-b",
                "category": "identity",
                "type": "trust_id",
                "metadata": {"user_id": "bob"},
            },
        ],
        create_only=False,
    )
    assert trusts.owner_trust_id("p1", "alice") is None
    assert trusts.owner_trust_id("p1", "bob") == "trust-b"
