"""What both REST apps (workloadmgr-api and datamover-api) share: JSON bodies checked against a JSON
Schema, JSON errors (400 with a message for bad input, never a traceback), the request log line, and the
loading of an app for a WSGI server."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

import flask
import jsonschema
import orjson
import oslo_messaging as messaging
from oslo_config import cfg
from werkzeug.exceptions import HTTPException

from t4o.common import config, errors
from t4o.common.context import RequestContext
from t4o.common.log import get_logger

LOG = get_logger(__name__)

MAX_BODY = 1024 * 1024

# The error body's key of each status, as Nova (and Trilio's workloadmgr) name them.
NOVA_ERROR_KEYS = {
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

# Where a WSGI server finds the configuration: comma-separated files; unset, the default files of the
# service (/etc/t4o/t4o.conf, ...), as the console scripts read them.
CONFIG_FILE_ENV = "OS_T4O_CONFIG_FILE"


def nova_error_key(code: int) -> str:
    return NOVA_ERROR_KEYS.get(code, "internalServerError" if code >= 500 else "error")


def error_response(code: int, message: str, key: str = "error") -> flask.Response:
    resp = flask.jsonify({key: {"code": code, "message": message}})
    resp.status_code = code
    return resp


def check_text(value: Any, where: str) -> None:
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
            check_text(k, where)
            check_text(v, where)
    elif isinstance(value, list):
        for v in value:
            check_text(v, where)


def validate(value: Any, schema: dict[str, Any], where: str = "") -> None:
    """400 naming the field at fault (``where``/json/path, or "body") when ``value`` fails ``schema``."""
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is not None:
        path = "/".join(filter(None, [where, "/".join(str(p) for p in error.absolute_path)]))
        raise errors.BadRequest(f"Invalid {path or 'body'}: {error.message[:300]}")


def json_body(schema: dict[str, Any], required: bool = True, where: str = "") -> Any:
    """The request's JSON body, checked against ``schema``; ``{}`` for an absent optional body."""
    raw = flask.request.get_data(cache=False)
    if not raw.strip():
        if required:
            raise errors.BadRequest("This request needs a JSON body.")
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.BadRequest(f"The body is not valid JSON: {exc}.") from exc
    check_text(body, "The body")
    validate(body, schema, where)
    return body


class OrjsonProvider(flask.json.provider.JSONProvider):
    """Responses rendered by orjson: a 1,000-workload page encodes several times faster than with json."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(s)

    def response(self, *args: Any, **kwargs: Any) -> flask.Response:
        obj = self._prepare_response_obj(args, kwargs)
        body = orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)
        return flask.Response(body, mimetype="application/json")


def create_app(
    name: str,
    context_from_environ: Callable[[dict[str, Any]], RequestContext],
    public_paths: tuple[str, ...],
    error_key: Callable[[int], str] = lambda _code: "error",
    failure: str = "The server failed to handle the request; see its log.",
) -> flask.Flask:
    """A Flask app with the shared plumbing; the caller adds its routes.

    Before each request outside ``public_paths`` the caller's context is put in ``flask.g.context``; after
    it one log line; every error becomes ``{error_key(code): {"code", "message"}}``.
    """
    app = flask.Flask(name)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.json = OrjsonProvider(app)

    def error(code: int, message: str) -> flask.Response:
        return error_response(code, message, error_key(code))

    @app.before_request
    def before() -> None:
        flask.g.started = time.monotonic()
        if flask.request.path not in public_paths:
            flask.g.context = context_from_environ(flask.request.environ)

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
        return error(exc.http_status, str(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> flask.Response:
        return error(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> flask.Response:
        LOG.exception("Unexpected error in %s %s", flask.request.method, flask.request.path)
        return error(500, failure)

    return app


def wsgi_application(prog: str, factory: Callable[[cfg.ConfigOpts], Any]) -> Any:
    """The app of ``prog`` for a WSGI server (uwsgi, mod_wsgi), configured as its console script is.

    The server decides where the app listens, so the loopback-only ``auth_strategy = noauth`` is refused.
    """
    config.ensure_registered()
    # The console scripts' RPC default: casts go to the exchange the services listen on.
    messaging.set_transport_defaults(control_exchange="t4o")
    files = [f for f in os.environ.get(CONFIG_FILE_ENV, "").split(",") if f]
    config.setup([], prog, default_config_files=files or None)
    if config.CONF.auth_strategy == "noauth":
        raise RuntimeError(f"{prog}: auth_strategy = noauth is for the loopback console script only.")
    return factory(config.CONF)
