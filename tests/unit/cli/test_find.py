"""Finding resources by ID or name: unique, ambiguous, missing."""

from __future__ import annotations

from unittest import mock

import pytest

from t4o.client import exceptions as exc
from t4o.client.http import HTTPClient
from t4o.client.workloads import WorkloadManager


def manager(listed: list[dict]) -> WorkloadManager:
    http = mock.Mock()

    def get(path: str, **params: object) -> dict:
        if path == "/workloads":
            return {"workloads": listed}
        wid = path.rsplit("/", 1)[1]
        for w in listed:
            if w["id"] == wid:
                return {"workload": w}
        raise exc.NotFound(404, "no")

    http.get.side_effect = get
    http.get_list.side_effect = lambda path, key, **params: HTTPClient.get_list(http, path, key, **params)
    return WorkloadManager(http)


def test_find_by_id_then_name() -> None:
    m = manager([{"id": "1", "name": "a"}, {"id": "2", "name": "b"}])
    assert m.find("2").name == "b"
    assert m.find("a").id == "1"


def test_ambiguous_and_missing() -> None:
    m = manager([{"id": "1", "name": "a"}, {"id": "2", "name": "a"}])
    with pytest.raises(exc.AmbiguousName, match=r"2 workloads are named 'a' \(1, 2\); give the ID"):
        m.find("a")
    with pytest.raises(
        exc.NotFound, match=r"No workload with name or ID 'z' \(see `openstack workload list`\)"
    ):
        m.find("z")
    with pytest.raises(exc.NotFound, match="Give the name or ID"):
        m.find("")


def test_create_body() -> None:
    http = mock.Mock()
    http.post.return_value = {"workload": {"id": "1"}}
    WorkloadManager(http).create(["vm1"], name="n", jobschedule={"enabled": False})
    path, body = http.post.call_args.args
    assert path == "/workloads"
    assert body == {
        "workload": {
            "instances": [{"instance-id": "vm1"}],
            "source_platform": "openstack",
            "name": "n",
            "jobschedule": {"enabled": False},
        }
    }
