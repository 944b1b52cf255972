"""The workloadmgr API's Flask application: one route per operation of t4o.api.spec, each checked against
the operation's schemas before its handler runs; JSON errors and the request log come from t4o.common.rest.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import flask
from oslo_config import cfg
from oslo_middleware import request_id

from t4o.api import audit_trail, pagination, prometheus, spec
from t4o.common import errors, rest, rest_auth

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _query_value(name: str, schema: dict[str, Any], raw: str) -> Any:
    rest.check_text(raw, f"Query parameter {name}")
    if schema.get("type") == "boolean":
        low = raw.lower()
        if low not in _TRUE | _FALSE:
            raise errors.BadRequest(f"Query parameter {name} must be true or false, not {raw!r}.")
        return low in _TRUE
    if schema.get("type") == "integer":
        return pagination.check_limit(raw)
    if schema.get("format") == "date-time":
        try:
            when = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError as exc:
            raise errors.BadRequest(f"Query parameter {name} is not an ISO 8601 date-time: {raw!r}.") from exc
        if when.tzinfo is not None:
            when = when.astimezone(dt.UTC).replace(tzinfo=None)
        return when
    if "enum" in schema and raw not in schema["enum"]:
        raise errors.BadRequest(f"Query parameter {name} must be one of {', '.join(schema['enum'])}.")
    if len(raw) > schema.get("maxLength", 255):
        raise errors.BadRequest(f"Query parameter {name} is too long.")
    return raw


def _parse_query(op: spec.Operation, args: Any) -> dict[str, Any]:
    return {name: _query_value(name, schema, args.get(name, "")) for name, schema in op.query.items()
            if name in args}  # fmt: skip


def _view(op: spec.Operation) -> Any:
    """The Flask view of ``op``: path, project, query and body checked, then the handler, then JSON."""

    def view(**path: str) -> flask.Response:
        for name, value in path.items():
            rest.check_text(value, f"Path parameter {name}")
        ctx = flask.g.context
        url_project = path.get("project_id", "")
        if url_project != ctx.project_id:
            if not ctx.is_admin:
                raise errors.Forbidden("The project in the URL is not the project of the token.")
            # An administrator acts inside the project named in the URL.
            ctx.project_id = url_project
        query = _parse_query(op, flask.request.args)
        body = {} if op.body is None else rest.json_body(op.body, op.body_required)
        payload = op.handler(ctx, body, query, **path)
        if payload is None:
            return flask.Response(status=op.status)
        if isinstance(payload, flask.Response):  # a streamed download: the handler built it
            return payload
        resp = flask.jsonify(payload)
        resp.status_code = op.status
        return resp

    view.__name__ = op.operation_id
    return view


def public_paths(conf: cfg.ConfigOpts) -> tuple[str, ...]:
    """Paths served without a token: /metrics too unless ``[metrics] require_auth``."""
    return rest_auth.PUBLIC_PATHS + (() if conf.metrics.require_auth else (prometheus.PATH,))


def create_flask_app(conf: cfg.ConfigOpts = cfg.CONF) -> flask.Flask:
    app = rest.create_app(
        "t4o.api", rest_auth.context_from_environ, public_paths(conf), error_key=rest.nova_error_key,
        failure="The server failed to handle the request; see the API log.",
    )  # fmt: skip
    for op in spec.OPERATIONS:
        rule = op.full_path.replace("{", "<").replace("}", ">")
        app.add_url_rule(rule, endpoint=op.operation_id, view_func=_view(op), methods=[op.method])

    app.after_request(audit_trail.after_request)

    document = spec.openapi()

    @app.get("/")
    def versions() -> Any:
        return {"versions": [{"id": "v1.0", "status": "CURRENT", "links": [{"rel": "self", "href": "/v1/"}]}]}

    @app.get("/openapi.json")
    def openapi_document() -> Any:
        return document

    metrics = prometheus.registry(conf)

    @app.get(prometheus.PATH)
    def prometheus_metrics() -> Any:
        return prometheus.response(conf, metrics)

    return app


def create_app(conf: cfg.ConfigOpts) -> Any:
    """The WSGI application with its middleware: request id, then authentication, then Flask."""
    return request_id.RequestId(rest_auth.wrap(create_flask_app(conf), conf, public_paths(conf)))
