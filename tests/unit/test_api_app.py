"""t4o.api.app: routing, validation and error mapping, with the rules layer (WorkloadAPI) mocked."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest

from t4o.api import app as api_app
from t4o.api import handlers, views
from t4o.common import errors


@pytest.fixture
def client(t4o_conf: Any) -> Any:
    t4o_conf.set_override("auth_strategy", "noauth")
    from werkzeug.test import Client

    with mock.patch.object(handlers, "API") as fake:
        c = Client(api_app.create_app(t4o_conf))
        c.fake = fake  # type: ignore[attr-defined]
        yield c
    t4o_conf.clear_override("auth_strategy")


MEMBER = {"X-Auth-Token": "u1:p1:member"}


def test_request_id_and_json_errors(client: Any) -> None:
    client.fake.get_workload.side_effect = errors.NotFound("Workload x not found.")
    resp = client.get("/v1/p1/workloads/x", headers=MEMBER)
    assert resp.status_code == 404
    assert resp.json == {"itemNotFound": {"code": 404, "message": "Workload x not found."}}
    assert resp.headers["X-OpenStack-Request-Id"].startswith("req-")


def test_conflict_and_forbidden_map(client: Any) -> None:
    client.fake.snapshot_workload.side_effect = errors.Conflict("busy")
    assert client.post("/v1/p1/workloads/w", json={}, headers=MEMBER).status_code == 409
    client.fake.list_workloads.side_effect = errors.Forbidden("no")
    assert client.get("/v1/p1/workloads", headers=MEMBER).json["forbidden"]["message"] == "no"


def test_unexpected_exception_is_a_clean_500(client: Any) -> None:
    client.fake.list_settings.side_effect = RuntimeError("boom")
    resp = client.get("/v1/p1/settings", headers=MEMBER)
    assert resp.status_code == 500 and "boom" not in resp.get_data(as_text=True)


def test_project_in_url_must_match_token(client: Any) -> None:
    assert client.get("/v1/p2/workloads", headers=MEMBER).status_code == 403
    client.fake.list_workloads.return_value = []
    assert client.get("/v1/p2/workloads", headers={"X-Auth-Token": "a:p1:admin"}).status_code == 200
    ctx = client.fake.list_workloads.call_args.args[0]
    assert ctx.project_id == "p2" and ctx.is_admin


@pytest.mark.parametrize(
    ("query", "expected"),
    [("all_workloads=True", True), ("all_workloads=0", False), ("all_workloads=yes", True), ("", False)],
)
def test_boolean_query(client: Any, query: str, expected: bool) -> None:
    client.fake.list_workloads.return_value = []
    assert client.get(f"/v1/p1/workloads?{query}", headers=MEMBER).status_code == 200
    assert client.fake.list_workloads.call_args.args[1] is expected


def test_bad_query_values(client: Any) -> None:
    assert client.get("/v1/p1/workloads?all_workloads=perhaps", headers=MEMBER).status_code == 400
    assert client.get("/v1/p1/snapshots?date_from=soon", headers=MEMBER).status_code == 400
    assert client.get("/v1/p1/snapshots?workload_id=a%00b", headers=MEMBER).status_code == 400


def test_dates_become_naive_utc(client: Any) -> None:
    client.fake.list_snapshots.return_value = []
    client.get("/v1/p1/snapshots?date_from=2026-01-01T02:00:00%2B02:00", headers=MEMBER)
    assert str(client.fake.list_snapshots.call_args.kwargs["date_from"]) == "2026-01-01 00:00:00"


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"[]",
        b'{"workload": {}}',
        b'{"workload": {"instances": [{"instance-id": "not-a-uuid"}]}}',
        b'{"workload": {"instances": [{"instance-id": "8f0c1c56-4c8b-4a57-9b7c-6e0d7a0f2d11"}]}, "x": 1}',
        b'{"workload": {"name": "\\u0000", "instances": []}}',
        b'{"workload": {"metadata": {"\\ud800": "x"}, "instances": []}}',
        b"",
    ],
)
def test_invalid_bodies(client: Any, body: bytes) -> None:
    resp = client.post("/v1/p1/workloads", data=body, headers={**MEMBER, "Content-Type": "application/json"})
    assert resp.status_code == 400, resp.json
    assert resp.json["badRequest"]["message"]
    client.fake.create_workload.assert_not_called()


def test_unknown_path_and_method(client: Any) -> None:
    assert client.get("/v1/p1/nothing", headers=MEMBER).json["itemNotFound"]["code"] == 404
    assert client.patch("/v1/p1/workloads", headers=MEMBER).status_code == 405


def test_public_paths_need_no_token(t4o_conf: Any) -> None:
    from werkzeug.test import Client

    # keystone mode: anything but the public paths is rejected without a token
    app = api_app.create_app(t4o_conf)
    c = Client(app)
    assert c.get("/").status_code == 200
    assert c.get("/openapi.json").json["openapi"] == "3.1.0"


def test_encrypted_workload_needs_a_secret(client: Any) -> None:
    vm = "8f0c1c56-4c8b-4a57-9b7c-6e0d7a0f2d11"
    body = {"workload": {"instances": [{"instance-id": vm}], "encryption": True}}
    resp = client.post("/v1/p1/workloads", json=body, headers=MEMBER)
    assert resp.status_code == 400 and "secret_uuid" in resp.json["badRequest"]["message"]
    client.fake.create_workload.return_value = mock.MagicMock()
    body["workload"]["secret_uuid"] = "s-1"
    with mock.patch.object(views, "workload", return_value={}):
        assert client.post("/v1/p1/workloads", json=body, headers=MEMBER).status_code == 202


def test_list_pages_and_next_link(client: Any) -> None:
    rows = [{"id": f"w{i}", "created_at": None, "updated_at": None} for i in range(2)]
    client.fake.list_workloads.return_value = [
        {**r, **dict.fromkeys(views._WORKLOAD_ROW_KEYS[1:], None)} for r in rows
    ]
    resp = client.get("/v1/p1/workloads/detail?limit=2&sort_dir=asc", headers=MEMBER)
    assert resp.status_code == 200, resp.json
    page = client.fake.list_workloads.call_args.kwargs["page"]
    assert (page.limit, page.marker, page.sort_dir) == (2, None, "asc")
    (link,) = resp.json["workloads_links"]
    assert link["rel"] == "next" and link["href"].endswith(
        "/v1/p1/workloads/detail?sort_dir=asc&limit=2&marker=w1"
    )
    # A short page has no next link; no limit means the default page size.
    resp = client.get("/v1/p1/workloads", headers=MEMBER)
    assert "workloads_links" not in resp.json
    assert client.fake.list_workloads.call_args.kwargs["page"].limit == 100


def test_limit_above_the_maximum_is_lowered(client: Any, t4o_conf: Any) -> None:
    client.fake.list_snapshots.return_value = []
    assert client.get("/v1/p1/snapshots?limit=5000", headers=MEMBER).status_code == 200
    assert client.fake.list_snapshots.call_args.kwargs["page"].limit == 1000


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=-3", "limit=abc", "limit=", "sort_key=id2", "sort_dir=up", "marker=" + "x" * 40],
)
def test_bad_paging_parameters_are_400(client: Any, query: str) -> None:
    client.fake.list_restores.return_value = []
    resp = client.get(f"/v1/p1/restores?{query}", headers=MEMBER)
    assert resp.status_code == 400
    assert resp.json["badRequest"]["message"]
