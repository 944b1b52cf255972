"""Authentication in front of both REST APIs: keystonemiddleware's auth_token, or noauth for loopback use.

Both leave the caller's identity in the X-User-Id / X-Project-Id / X-Roles headers of the WSGI environ,
where :func:`context_from_environ` reads it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from oslo_config import cfg

from t4o.common import policy
from t4o.common.context import RequestContext

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# Paths served without authentication: version discovery and the API description.
PUBLIC_PATHS = ("/", "/openapi.json")  # workloadmgr-api adds /metrics unless [metrics] require_auth


class NoAuth:
    """Trusts ``X-Auth-Token: user:project[:role,role]``; without a token the caller is an admin of the
    project in the URL. Only for all-in-one on loopback (the service refuses other bind addresses)."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        token = environ.get("HTTP_X_AUTH_TOKEN", "")
        parts = token.split(":") if token else []
        if len(parts) >= 2 and parts[0] and parts[1]:
            user, project = parts[0], parts[1]
            roles = parts[2] if len(parts) > 2 and parts[2] else "member,reader"
        else:
            path = environ.get("PATH_INFO", "").split("/")
            project = path[2] if len(path) > 2 and path[1] == "v1" else "admin"
            user, roles = "admin", "admin,member,reader"
        environ.update(
            HTTP_X_IDENTITY_STATUS="Confirmed",
            HTTP_X_USER_ID=user,
            HTTP_X_USER_NAME=user,
            HTTP_X_PROJECT_ID=project,
            HTTP_X_PROJECT_NAME=project,
            HTTP_X_ROLES=roles,
        )
        return self.app(environ, start_response)


class PublicPaths:
    """Sends the public paths straight to the app, everything else through the auth pipeline."""

    def __init__(self, app: WSGIApp, authenticated: WSGIApp, paths: tuple[str, ...] = PUBLIC_PATHS) -> None:
        self.app = app
        self.authenticated = authenticated
        self.paths = paths

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") in self.paths and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            return self.app(environ, start_response)
        return self.authenticated(environ, start_response)


def wrap(app: WSGIApp, conf: cfg.ConfigOpts, public_paths: tuple[str, ...] = PUBLIC_PATHS) -> WSGIApp:
    """``app`` behind authentication, except for GET/HEAD of ``public_paths``."""
    if conf.auth_strategy == "noauth":
        return PublicPaths(app, NoAuth(app), public_paths)
    from keystonemiddleware import auth_token  # half a second to import; noauth runs without it

    return PublicPaths(app, auth_token.AuthProtocol(app, {"oslo_config_config": conf}), public_paths)


def context_from_environ(environ: dict[str, Any]) -> RequestContext:
    catalog: list[dict[str, Any]] = []
    raw = environ.get("HTTP_X_SERVICE_CATALOG")
    if raw:
        try:
            parsed = json.loads(raw)
            catalog = parsed if isinstance(parsed, list) else []
        except ValueError:
            catalog = []
    ctx = RequestContext.from_environ(environ, service_catalog=catalog)
    ctx.is_admin = policy.is_admin(ctx)
    return ctx
