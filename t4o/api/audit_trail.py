"""Every mutating API call written to the audit log, in one place: the Flask app's after_request.

A call mutates when its method is POST, PUT, PATCH or DELETE, or it is one of Trilio's GETs that act
(cancel a job, send a test email). The entry names the caller, the project, the object (from the path,
or from the body of a created object), the status code and, for a refused call, the error message. An
entry that cannot be written is logged and the call answers as it would have.
"""

from __future__ import annotations

from typing import Any

import flask

from t4o.common.log import get_logger
from t4o.db import audit_api

LOG = get_logger(__name__)

MUTATING_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
ACTING_GETS = {"cancelSnapshot", "cancelRestore", "sendTestEmail"}
_ID_MAX = 255


def _object_from_path(rule: str, args: dict[str, Any]) -> tuple[str | None, str | None]:
    """The last path parameter (after the project) and what it names, e.g. workload_id -> workload."""
    segments = rule.strip("/").split("/")
    for i in range(len(segments) - 1, -1, -1):
        seg = segments[i]
        if seg.startswith("<") and seg != "<project_id>":
            name = seg.strip("<>").split(":")[-1]
            kind = name[: -len("_id")] if name.endswith("_id") else segments[i - 1].rstrip("s")
            return kind, str(args.get(name, ""))[:_ID_MAX]
    return None, None


def _object_from_body(resp: flask.Response) -> tuple[str | None, str | None]:
    """A created object's kind and id from a body like ``{"workload": {"id": ...}}``."""
    if resp.is_streamed or not resp.is_json:
        return None, None
    body = resp.get_json(silent=True)
    if not isinstance(body, dict) or len(body) != 1:
        return None, None
    ((key, value),) = body.items()
    if isinstance(value, dict) and value.get("id"):
        return key, str(value["id"])[:_ID_MAX]
    if isinstance(value, list) and value and all(isinstance(v, dict) and "name" in v for v in value):
        return key.rstrip("s"), ",".join(str(v["name"]) for v in value)[:_ID_MAX]
    return None, None


def _error_message(resp: flask.Response) -> str | None:
    body = resp.get_json(silent=True) if resp.is_json else None
    if isinstance(body, dict) and len(body) == 1:
        inner = next(iter(body.values()))
        if isinstance(inner, dict) and "message" in inner:
            return str(inner["message"])
    return None


def audited(request: flask.Request) -> bool:
    return request.method in MUTATING_METHODS or (request.method == "GET" and request.endpoint in ACTING_GETS)


def after_request(resp: flask.Response) -> flask.Response:
    request = flask.request
    ctx = flask.g.get("context")
    if ctx is None or request.url_rule is None or not audited(request):
        return resp  # unauthenticated, unrouted or reading: nothing to record
    try:
        kind, object_id = _object_from_path(request.url_rule.rule, request.view_args or {})
        if object_id is None and resp.status_code < 400:
            kind, object_id = _object_from_body(resp)
        ok = resp.status_code < 400
        audit_api.record(
            kind="api",
            action=f"{request.method} {request.endpoint}",
            method=request.method,
            path=request.full_path.rstrip("?"),
            object_type=kind,
            object_id=object_id,
            status_code=resp.status_code,
            result="success" if ok else "failure",
            message=None if ok else _error_message(resp),
            user_id=ctx.user_id or "",
            project_id=ctx.project_id or "",
            request_id=request.environ.get("openstack.request_id") or ctx.request_id,
        )
    except Exception:  # the call itself went through: a lost audit entry must not turn it into an error
        LOG.exception("Could not write the audit entry of %s %s", request.method, request.path)
    return resp
