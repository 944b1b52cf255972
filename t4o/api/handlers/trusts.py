"""Trilio's trusts: ``GET|POST /trusts``, ``GET|DELETE /trusts/{name}``."""

from __future__ import annotations

from typing import Any

from t4o.api.handlers import Body, Query
from t4o.common.config import CONF
from t4o.common.context import RequestContext
from t4o.policies import trust_api


def _view(st: Any) -> dict[str, Any]:
    return {
        "name": st.name,
        "value": st.value,
        "user_id": (st.metadata_ or {}).get("user_id", st.user_id),
        "project_id": st.project_id,
        "category": st.category,
        "type": st.type,
        "description": st.description,
        "is_public": st.is_public,
        "is_hidden": st.is_hidden,
        "metadata": st.metadata_,
        "created_at": st.created_at.isoformat(timespec="microseconds") + "Z" if st.created_at else None,
    }


def list_trusts(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    return {"trust": [_view(t) for t in trust_api.list_trusts(ctx)]}


def create_trust(ctx: RequestContext, body: Body, query: Query, project_id: str) -> Any:
    req = body["trusts"]
    trust = trust_api.create_trust(CONF, ctx, req.get("role_name") or "", bool(req.get("is_cloud_trust")))
    return {"trust": [_view(trust)]}  # Trilio answers a list of the trusts created


def show_trust(ctx: RequestContext, body: Body, query: Query, project_id: str, name: str) -> Any:
    return {"trust": _view(trust_api.get_trust(ctx, name))}


def delete_trust(ctx: RequestContext, body: Body, query: Query, project_id: str, name: str) -> Any:
    trust_api.delete_trust(CONF, ctx, name)
    return None
