"""The HTTP layer: a keystoneauth1 adapter for service type ``workloads``; API errors as exceptions."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from keystoneauth1 import adapter, noauth, token_endpoint
from keystoneauth1 import exceptions as ksa_exc
from keystoneauth1 import session as ksa_session

from t4o.client import exceptions as exc

SERVICE_TYPE = "workloads"
USER_AGENT = "t4o-client"


def _api_base(url: str, project_id: str | None) -> str:
    """``http://host:8780`` -> ``http://host:8780/v1/<project>``; URLs that name /v1/... stay as they are."""
    url = url.rstrip("/")
    if names_project(url):
        return url
    if not project_id:
        raise exc.EndpointMissing(
            f"The endpoint {url} does not name a project: give the API URL with the project, "
            f"{url.removesuffix('/v1')}/v1/<project_id>."
        )
    return f"{url.removesuffix('/v1')}/v1/{project_id}"


def names_project(url: str) -> bool:
    """Whether the URL already reads ``.../v1/<project_id>``."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    return "v1" in parts and parts.index("v1") < len(parts) - 1


def noauth_project(token: str | None) -> str | None:
    """The project of an all-in-one noauth token ``user:project[:roles]``."""
    parts = (token or "").split(":")
    return parts[1] or None if len(parts) >= 2 else None


def _message(resp: Any) -> str:
    """The ``message`` of the API's error body ``{"<kind>": {"code": N, "message": "..."}}``."""
    try:
        body = resp.json()
    except (ValueError, json.JSONDecodeError):
        body = None
    if isinstance(body, dict) and len(body) == 1:
        inner = next(iter(body.values()))
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    text = (resp.text or "").strip().splitlines()
    return text[0][:300] if text else resp.reason or f"HTTP {resp.status_code}"


class HTTPClient:
    """Sends requests below the API base ``.../v1/<project_id>`` and returns decoded JSON bodies."""

    def __init__(
        self,
        session: ksa_session.Session,
        *,
        endpoint_override: str | None = None,
        project_id: str | None = None,
        interface: str | None = "public",
        region_name: str | None = None,
        timeout: float | None = 60,
    ) -> None:
        self.session = session
        self.project_id = project_id
        self.interface = interface or "public"
        self.region_name = region_name
        self._adapter = adapter.Adapter(
            session,
            service_type=SERVICE_TYPE,
            interface=self.interface,
            region_name=region_name,
            endpoint_override=endpoint_override,
            user_agent=USER_AGENT,
        )
        self._timeout = timeout
        self._base: str | None = None

    @classmethod
    def for_endpoint(
        cls, endpoint: str, *, project_id: str | None = None, token: str | None = None, **kwargs: Any
    ) -> HTTPClient:
        """A client of an explicit endpoint: all-in-one's noauth, or a token obtained elsewhere."""
        plugin = token_endpoint.Token(endpoint, token) if token else noauth.NoAuth(endpoint=endpoint)
        project_id = project_id or noauth_project(token)
        return cls(
            ksa_session.Session(auth=plugin), endpoint_override=endpoint, project_id=project_id, **kwargs
        )

    @property
    def base_url(self) -> str:
        if self._base is None:
            try:
                endpoint = self._adapter.get_endpoint()
            except ksa_exc.EndpointNotFound:
                endpoint = None
            except ksa_exc.ClientException as err:
                raise translate(err) from err
            if not endpoint:
                where = f" in region {self.region_name}" if self.region_name else ""
                raise exc.EndpointMissing(
                    f"No '{SERVICE_TYPE}' endpoint ({self.interface} interface{where}) in the service "
                    "catalog: ask the cloud operator to register T4O, or give the API's URL with "
                    "--os-workloads-endpoint-override."
                )
            project = self.project_id
            if project is None and not names_project(endpoint):
                project = self.session.get_project_id()
            self._base = _api_base(endpoint, project)
        return self._base

    def project(self) -> str:
        """The project the API base URL names (``.../v1/<project_id>``)."""
        parts = [p for p in urlsplit(self.base_url).path.split("/") if p]
        return parts[parts.index("v1") + 1]

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        ok: tuple[int, ...] = (200, 202, 204),
    ) -> Any:
        url = self.base_url + path
        kwargs: dict[str, Any] = {"raise_exc": False, "timeout": self._timeout}
        if body is not None:
            kwargs["json"] = body
        if params:
            kwargs["params"] = {k: v for k, v in params.items() if v is not None}
        try:
            resp = self._adapter.request(url, method, endpoint_override=self.base_url, **kwargs)
        except ksa_exc.ClientException as err:
            raise translate(err) from err
        if resp.status_code not in ok:
            raise api_error(resp)
        if resp.status_code == 204 or not resp.content:
            return None
        try:
            return resp.json()
        except ValueError as err:
            raise exc.ApiError(
                resp.status_code, f"The API answered {method} {path} with non-JSON data."
            ) from err

    def open_stream(
        self,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200, 206),
    ) -> Any:
        """GET ``path`` without reading the body: the ``requests`` response, to read with
        ``iter_content`` and close. An error status raises the API's error (its body is small JSON)."""
        url = self.base_url + path
        kwargs: dict[str, Any] = {"raise_exc": False, "timeout": self._timeout, "stream": True}
        if params:
            kwargs["params"] = {k: v for k, v in params.items() if v is not None}
        if headers:
            kwargs["headers"] = headers
        try:
            resp = self._adapter.request(url, "GET", endpoint_override=self.base_url, **kwargs)
        except ksa_exc.ClientException as err:
            raise translate(err) from err
        if resp.status_code not in ok:
            try:
                raise api_error(resp)
            finally:
                resp.close()
        return resp

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def get_list(self, path: str, key: str, **params: Any) -> list[Any]:
        """Every item of a paged list: follows the ``<key>_links`` ``next`` hrefs until the last page.
        With an explicit ``limit`` only that one page is fetched (the caller pages itself)."""
        body = self.get(path, **params)
        items = list(body[key])
        if params.get("limit") is not None:
            return items
        seen: set[str] = set()
        while (page := next_page(body)) is not None:
            marker = page.get("marker")
            if not marker or marker in seen:  # a link that does not move on would loop forever
                break
            seen.add(marker)
            body = self.get(path, **page)
            items.extend(body[key])
        return items

    def post(self, path: str, body: Any = None, **params: Any) -> Any:
        return self.request("POST", path, body=body, params=params)

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, body=body)

    def delete(self, path: str, **params: Any) -> Any:
        return self.request("DELETE", path, params=params)


def next_page(body: Any) -> dict[str, str] | None:
    """The query of the ``next`` link of a list body (any ``*_links`` key), or None on the last page.

    Only the href's query is used: the request goes to the client's own endpoint, which may differ from
    the address the API sees behind a proxy."""
    if not isinstance(body, dict):
        return None
    for key, links in body.items():
        if not key.endswith("_links") or not isinstance(links, list):
            continue
        for link in links:
            if isinstance(link, dict) and link.get("rel") == "next" and link.get("href"):
                return dict(parse_qsl(urlsplit(str(link["href"])).query))
    return None


def api_error(resp: Any) -> exc.ApiError:
    status = resp.status_code
    message = _message(resp)
    request_id = resp.headers.get("X-OpenStack-Request-Id")
    if status == 401:
        return exc.ApiError(status, f"The workloads API refused the token (HTTP 401): {message}", request_id)
    if status == 404:
        return exc.NotFound(status, message, request_id)
    return exc.ApiError(status, f"{message} (HTTP {status})", request_id)


def translate(err: ksa_exc.ClientException) -> exc.ClientError:
    """keystoneauth's exceptions as one-line client errors that say what to do."""
    if isinstance(err, ksa_exc.EndpointNotFound):
        return exc.EndpointMissing(
            f"No '{SERVICE_TYPE}' endpoint in the service catalog: ask the cloud operator to register T4O, "
            "or give the API's URL with --os-workloads-endpoint-override."
        )
    if isinstance(err, ksa_exc.Unauthorized | ksa_exc.AuthorizationFailure):
        return exc.AuthFailed(
            "Authentication failed: Keystone refused the credentials; check the user, password, project "
            "and domain (OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME, OS_USER_DOMAIN_NAME) or --os-cloud."
        )
    if isinstance(err, ksa_exc.MissingAuthPlugin | ksa_exc.auth_plugins.MissingRequiredOptions):
        return exc.AuthFailed(
            f"Not enough to authenticate ({err}): set OS_AUTH_URL, OS_USERNAME, OS_PASSWORD and "
            "OS_PROJECT_NAME, choose a cloud with --os-cloud, or give --os-endpoint and --os-token."
        )
    if isinstance(err, ksa_exc.ConnectFailure | ksa_exc.ConnectTimeout):
        match = re.search(r"connection to (\S+?):? ", str(err))
        where = f" to {match.group(1)}" if match else ""
        return exc.ConnectionFailed(f"Cannot connect{where}: is the service running and the URL right?")
    if isinstance(err, ksa_exc.Forbidden):
        return exc.AuthFailed(f"Not allowed: {err}")
    if isinstance(err, ksa_exc.HttpError | ksa_exc.DiscoveryFailure):
        # API calls never raise these (raise_exc=False): they come from talking to Keystone.
        return exc.AuthFailed(
            f"Keystone did not authenticate: {err}; check that "
            "OS_AUTH_URL (--os-auth-url) is Keystone's URL, e.g. http://HOST:5000/v3."
        )
    return exc.ClientError(str(err))
