"""Paged lists: the client follows ``<key>_links`` next hrefs (their query only) until the last page."""

from __future__ import annotations

from typing import Any
from unittest import mock

from t4o.client.http import HTTPClient, next_page
from t4o.client.policies import WorkloadPolicyManager
from t4o.client.workloads import WorkloadManager

ITEMS = [{"id": f"w{i}", "name": f"n{i}"} for i in range(7)]


def paged_http(page_size: int = 3, base: str = "http://proxy-sees-this:8780/v1/p/workloads") -> mock.Mock:
    """An API that pages ITEMS like t4o.api.pagination: a next link only when a page is full."""
    http = mock.Mock()
    calls: list[dict[str, Any]] = []

    def get(path: str, **params: Any) -> dict[str, Any]:
        calls.append({"path": path, **params})
        limit = int(params.get("limit") or page_size)
        start = 0
        if params.get("marker"):
            start = [i["id"] for i in ITEMS].index(params["marker"]) + 1
        page = ITEMS[start : start + limit]
        body: dict[str, Any] = {"workloads": page}
        if len(page) == limit:
            query = f"all_workloads=true&limit={limit}&marker={page[-1]['id']}"
            body["workloads_links"] = [{"rel": "next", "href": f"{base}?{query}"}]
        return body

    http.get.side_effect = get
    http.get_list.side_effect = lambda path, key, **params: HTTPClient.get_list(http, path, key, **params)
    http.calls = calls
    return http


def test_every_page_is_fetched_from_the_clients_own_path() -> None:
    http = paged_http()
    listed = WorkloadManager(http).list(all_projects=True)
    assert [w.id for w in listed] == [i["id"] for i in ITEMS]
    assert [c.get("marker") for c in http.calls] == [None, "w2", "w5"]
    # the href's host is ignored: every request goes to the client's path with the href's query
    assert {c["path"] for c in http.calls} == {"/workloads"}
    assert http.calls[1]["all_workloads"] == "true" and http.calls[1]["limit"] == "3"


def test_an_explicit_limit_fetches_one_page() -> None:
    http = paged_http()
    assert [w.id for w in WorkloadManager(http).list(limit=2, marker="w0")] == ["w1", "w2"]
    assert len(http.calls) == 1


def test_a_link_that_does_not_move_on_stops() -> None:
    http = mock.Mock()
    stuck = {"rel": "next", "href": "http://h/v1/p/workloads?marker=w1"}
    http.get.return_value = {"workloads": [ITEMS[1]], "workloads_links": [stuck]}
    items = HTTPClient.get_list(http, "/workloads", "workloads")
    assert [i["id"] for i in items] == ["w1", "w1"] and http.get.call_count == 2


def test_next_page() -> None:
    assert next_page({"x": [], "x_links": [{"rel": "next", "href": "http://h/x?limit=2&marker=m"}]}) == {
        "limit": "2",
        "marker": "m",
    }
    assert next_page({"x": []}) is None
    assert next_page({"x_links": [{"rel": "self", "href": "http://h/x"}]}) is None
    assert next_page(None) is None


def test_policy_lists_page_too() -> None:
    http = mock.Mock()
    http.get.return_value = {"policy_list": [{"id": "a"}]}
    http.get_list.side_effect = lambda path, key, **params: HTTPClient.get_list(http, path, key, **params)
    assert [p.id for p in WorkloadPolicyManager(http).list()] == ["a"]
    assert http.get.call_args.args == ("/workload_policy/",)
    http.get.return_value = {"policies": [{"id": "b"}]}
    assert [p.id for p in WorkloadPolicyManager(http).list(project_id="p1")] == ["b"]
    assert http.get.call_args.args == ("/workload_policy/assigned/p1",)
