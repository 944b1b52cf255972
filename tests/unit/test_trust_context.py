"""The trust of a scheduled job travels with its context and is what the workers authenticate with."""

from __future__ import annotations

import json
from typing import Any

import pytest
from keystoneauth1 import session as ks_session

from t4o.common.context import RequestContext
from t4o.common.rpc import ContextSerializer
from t4o.openstack import connection, keystone_trusts


def test_trust_id_survives_rpc_serialisation() -> None:
    ctx = RequestContext(user_id="u", project_id="p", auth_token="tok", trust_id="trust-1")
    wire = json.loads(json.dumps(ContextSerializer().serialize_context(ctx)))
    back = ContextSerializer().deserialize_context(wire)
    assert (back.trust_id, back.user_id, back.project_id) == ("trust-1", "u", "p")
    plain = ContextSerializer().deserialize_context(ContextSerializer().serialize_context(RequestContext()))
    assert plain.trust_id is None


def test_user_connection_authenticates_through_the_trust(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    fake_session = ks_session.Session()

    def trust_session(conf: Any, trust_id: str) -> Any:
        asked.append(trust_id)
        return fake_session

    monkeypatch.setattr(keystone_trusts, "trust_session", trust_session)
    ctx = RequestContext(project_id="p", auth_token="trust-scoped", trust_id="trust-9")
    conn = connection.user_connection(ctx, "public", None)
    assert asked == ["trust-9"]
    assert conn.session is fake_session


def test_user_connection_without_trust_exchanges_the_callers_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keystone_trusts, "trust_session", lambda *_: pytest.fail("no trust expected"))
    catalog = [{"type": "identity", "endpoints": [{"interface": "public", "url": "http://127.0.0.1:5000"}]}]
    ctx = RequestContext(project_id="p", auth_token="tok", service_catalog=catalog)
    conn = connection.user_connection(ctx, "public", None)
    assert conn.session.auth.auth_url == "http://127.0.0.1:5000/v3"
    assert conn.session.auth.project_id == "p"


def test_trust_context_records_the_trust(monkeypatch: pytest.MonkeyPatch) -> None:
    class Access:
        auth_token, user_id, project_id, role_names = "t2", "owner", "p", ["member"]

        class service_catalog:  # the shape of keystoneauth's AccessInfo
            catalog: list[dict[str, Any]] = []

    class Auth:
        def get_access(self, sess: Any) -> Access:
            return Access()

    class Sess:
        auth = Auth()

    monkeypatch.setattr(keystone_trusts, "trust_session", lambda conf, tid: Sess())
    ctx = keystone_trusts.trust_context(None, "trust-3", RequestContext(user_id="owner", project_id="p"))  # type: ignore[arg-type]
    assert (ctx.trust_id, ctx.auth_token) == ("trust-3", "t2")
