"""The Flask application: routes generated from t4o.api.spec, request validation, JSON errors, logging."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any

import flask
import jsonschema
import orjson
from oslo_config import cfg
from oslo_middleware import request_id
from werkzeug.exceptions import HTTPException

from t4o.api import auth, handlers, pagination, spec
from t4o.common import errors
from t4o.common.log import get_logger

LOG = get_logger(__name__)

MAX_BODY = 1024 * 1024

_ERROR_KEYS = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "methodNotAllowed",
    409: "conflictingRequest",
    413: "requestEntityTooLarge",
    415: "unsupportedMediaType",
    503: "serviceUnavailable",
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def error_response(code: int, message: str) -> flask.Response:
    key = _ERROR_KEYS.get(code, "internalServerError" if code >= 500 else "error")
    resp = flask.jsonify({key: {"code": code, "message": message}})
    resp.status_code = code
    return resp


def _check_text(value: Any, where: str) -> None:
    """Refuse strings no database stores as given: NUL characters and lone surrogates."""
    if isinstance(value, str):
        if "\x00" in value:
            raise errors.BadRequest(f"{where} contains a NUL character.")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise errors.BadRequest(f"{where} is not valid UTF-8 text.") from exc
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_text(k, where)
            _check_text(v, where)
    elif isinstance(value, list):
        for v in value:
            _check_text(v, where)


def _parse_query(op: spec.Operation, args: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, schema in op.query.items():
        if name not in args:
            continue
        raw = args.get(name, "")
        _check_text(raw, f"Query parameter {name}")
        if schema.get("type") == "boolean":
            low = raw.lower()
            if low not in _TRUE | _FALSE:
                raise errors.BadRequest(f"Query parameter {name} must be true or false, not {raw!r}.")
            out[name] = low in _TRUE
        elif schema.get("type") == "integer":
            out[name] = pagination.check_limit(raw)
        elif schema.get("format") == "date-time":
            try:
                when = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError as exc:
                raise errors.BadRequest(
                    f"Query parameter {name} is not an ISO 8601 date-time: {raw!r}."
                ) from exc
            if when.tzinfo is not None:
                when = when.astimezone(dt.UTC).replace(tzinfo=None)
            out[name] = when
        else:
            if "enum" in schema and raw not in schema["enum"]:
                raise errors.BadRequest(f"Query parameter {name} must be one of {', '.join(schema['enum'])}.")
            if len(raw) > schema.get("maxLength", 255):
                raise errors.BadRequest(f"Query parameter {name} is too long.")
            out[name] = raw
    return out


def _parse_body(op: spec.Operation) -> dict[str, Any]:
    if op.body is None:
        return {}
    raw = flask.request.get_data(cache=False)
    if not raw.strip():
        if op.body_required:
            raise errors.BadRequest("This request needs a JSON body.")
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.BadRequest(f"The body is not valid JSON: {exc}.") from exc
    _check_text(body, "The body")
    validator = jsonschema.Draft202012Validator(
        op.body, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    error = jsonschema.exceptions.best_match(validator.iter_errors(body))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "body"
        raise errors.BadRequest(f"Invalid {where}: {error.message[:300]}")
    return body


def _view(op: spec.Operation, handler: Callable[..., Any]) -> Callable[..., flask.Response]:
    def view(**path: str) -> flask.Response:
        for name, value in path.items():
            _check_text(value, f"Path parameter {name}")
        ctx = flask.g.context
        url_project = path.get("project_id", "")
        if url_project != ctx.project_id:
            if not ctx.is_admin:
                raise errors.Forbidden("The project in the URL is not the project of the token.")
            # An administrator acts inside the project named in the URL.
            ctx.project_id = url_project
        query = _parse_query(op, flask.request.args)
        body = _parse_body(op)
        payload = handler(ctx, body, query, **path)
        if payload is None:
            return flask.Response(status=op.status)
        resp = flask.jsonify(payload)
        resp.status_code = op.status
        return resp

    view.__name__ = op.operation_id
    return view


class OrjsonProvider(flask.json.provider.JSONProvider):
    """Responses rendered by orjson: a 1,000-workload page encodes several times faster than with json."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(s)

    def response(self, *args: Any, **kwargs: Any) -> flask.Response:
        obj = self._prepare_response_obj(args, kwargs)
        body = orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)
        return self._app.response_class(body, mimetype="application/json")


def create_flask_app() -> flask.Flask:
    app = flask.Flask("t4o.api")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.json = OrjsonProvider(app)
    for op in spec.OPERATIONS:
        rule = op.full_path.replace("{", "<").replace("}", ">")
        app.add_url_rule(rule, endpoint=op.operation_id, view_func=_view(op, getattr(handlers, op.handler)),
                         methods=[op.method])  # fmt: skip

    document = spec.openapi()

    @app.get("/")
    def versions() -> Any:
        return {"versions": [{"id": "v1.0", "status": "CURRENT", "links": [{"rel": "self", "href": "/v1/"}]}]}

    @app.get("/openapi.json")
    def openapi_document() -> Any:
        return document

    @app.before_request
    def before() -> None:
        flask.g.started = time.monotonic()
        if flask.request.path not in auth.PUBLIC_PATHS:
            flask.g.context = auth.context_from_environ(flask.request.environ)

    @app.after_request
    def after(resp: flask.Response) -> flask.Response:
        elapsed = time.monotonic() - flask.g.get("started", time.monotonic())
        LOG.info(
            '"%s %s" status: %s len: %s time: %.3f',
            flask.request.method,
            flask.request.full_path.rstrip("?"),
            resp.status_code,
            resp.content_length,
            elapsed,
        )
        return resp

    @app.errorhandler(errors.T4OError)
    def t4o_error(exc: errors.T4OError) -> flask.Response:
        return error_response(exc.http_status, str(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> flask.Response:
        return error_response(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> flask.Response:
        LOG.exception("Unexpected error in %s %s", flask.request.method, flask.request.path)
        return error_response(500, "The server failed to handle the request; see the API log.")

    return app


def create_app(conf: cfg.ConfigOpts) -> Any:
    """The WSGI application with its middleware: request id, then authentication, then Flask."""
    return request_id.RequestId(auth.wrap(create_flask_app(), conf))
