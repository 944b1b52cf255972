"""The client's HTTP layer: endpoint handling and error translation (keystoneauth mocked out)."""

from __future__ import annotations

from unittest import mock

import pytest
from keystoneauth1 import exceptions as ksa_exc

from t4o.client import exceptions as exc
from t4o.client import http


def test_names_project_and_api_base() -> None:
    assert http.names_project("http://h:8780/v1/abc")
    assert http.names_project("http://h:8780/v1/abc/")
    assert not http.names_project("http://h:8780/v1")
    assert not http.names_project("http://h:8780")
    assert http._api_base("http://h:8780/", "p") == "http://h:8780/v1/p"
    assert http._api_base("http://h:8780/v1", "p") == "http://h:8780/v1/p"
    assert http._api_base("http://h:8780/v1/q", "p") == "http://h:8780/v1/q"
    with pytest.raises(exc.EndpointMissing, match="http://h:8780/v1/<project_id>"):
        http._api_base("http://h:8780", None)


def test_noauth_project() -> None:
    assert http.noauth_project("alice:proj:member") == "proj"
    assert http.noauth_project("alice:proj") == "proj"
    assert http.noauth_project("opaque-keystone-token") is None
    assert http.noauth_project(None) is None


def response(status: int, body: object = None, text: str = "") -> mock.Mock:
    resp = mock.Mock(
        status_code=status, text=text, reason="Reason", headers={"X-OpenStack-Request-Id": "req-1"}
    )
    resp.json.side_effect = (lambda: body) if body is not None else ValueError("no json")
    return resp


def test_api_errors() -> None:
    err = http.api_error(response(409, {"conflictingRequest": {"code": 409, "message": "Busy."}}))
    assert isinstance(err, exc.ApiError) and str(err) == "Busy. (HTTP 409)" and err.request_id == "req-1"
    assert isinstance(
        http.api_error(response(404, {"itemNotFound": {"code": 404, "message": "Gone"}})), exc.NotFound
    )
    assert str(http.api_error(response(502, text="<html>\nbad gateway"))) == "<html> (HTTP 502)"
    assert "refused the token" in str(http.api_error(response(401, {"unauthorized": {"message": "no"}})))


@pytest.mark.parametrize(
    ("error", "kind", "text"),
    [
        (ksa_exc.EndpointNotFound(), exc.EndpointMissing, "No 'workloads' endpoint in the service catalog"),
        (ksa_exc.Unauthorized(), exc.AuthFailed, "Authentication failed"),
        (
            ksa_exc.ConnectFailure("Unable to establish connection to http://x:1/v3: refused"),
            exc.ConnectionFailed,
            "Cannot connect to http://x:1/v3: is the service running",
        ),
        (ksa_exc.MissingAuthPlugin("none"), exc.AuthFailed, "Not enough to authenticate"),
        (
            ksa_exc.NotFound("Unrecognized schema"),
            exc.AuthFailed,
            "Keystone did not authenticate: Unrecognized schema",
        ),
        (ksa_exc.DiscoveryFailure("no versions"), exc.AuthFailed, "OS_AUTH_URL (--os-auth-url)"),
    ],
)
def test_translate(error: Exception, kind: type, text: str) -> None:
    out = http.translate(error)  # type: ignore[arg-type]
    assert isinstance(out, kind) and text in str(out) and "\n" not in str(out)


def test_missing_catalog_entry_names_region() -> None:
    client = http.HTTPClient(mock.Mock(), region_name="North")
    with (
        mock.patch.object(client._adapter, "get_endpoint", return_value=None),
        pytest.raises(exc.EndpointMissing, match="public interface in region North"),
    ):
        client.base_url  # noqa: B018


def test_catalog_endpoint_without_project_uses_the_token_project() -> None:
    session = mock.Mock()
    session.get_project_id.return_value = "tok-proj"
    client = http.HTTPClient(session)
    with mock.patch.object(client._adapter, "get_endpoint", return_value="http://h:8780"):
        assert client.base_url == "http://h:8780/v1/tok-proj"
