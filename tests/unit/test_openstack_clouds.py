"""t4o.openstack: catalog lookup, Nova ownership checks (connection mocked), the cloud chosen by
cloud_driver, and the stub cloud of the control-plane tests."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from openstack import exceptions as sdk_exc
from openstack.compute.v2.server import Server

from t4o.common import drivers, errors
from t4o.common.context import RequestContext
from t4o.openstack import nova
from t4o.openstack.cloud import get_cloud
from tests import stubs
from tests.stubs.stub_cloud import StubCloud

CATALOG = [
    {"type": "identity", "endpoints": [{"interface": "public", "region": "R1", "url": "http://k"}]},
    {
        "type": "compute",
        "endpoints": [
            {"interface": "internal", "region": "R1", "url": "http://n-int"},
            {"interface": "public", "region": "R1", "url": "http://n-pub"},
        ],
    },
]


def test_endpoint_from_catalog() -> None:
    assert nova.endpoint_from_catalog(CATALOG, "compute", "public", None) == "http://n-pub"
    assert nova.endpoint_from_catalog(CATALOG, "compute", "internal", "R1") == "http://n-int"
    assert nova.endpoint_from_catalog(CATALOG, "compute", "public", "R2") is None
    assert nova.endpoint_from_catalog(CATALOG, "volumev3", "public", None) is None


def test_endpoint_from_v2_catalog() -> None:
    v2 = [
        {
            "type": "compute",
            "endpoints": [{"region": "R1", "publicURL": "http://p", "internalURL": "http://i"}],
        }
    ]
    assert nova.endpoint_from_catalog(v2, "compute", "internal", "R1") == "http://i"
    assert nova.endpoint_from_catalog(v2, "compute", "public", None) == "http://p"


def test_nova_needs_a_compute_endpoint() -> None:
    with pytest.raises(errors.BadRequest):
        nova.NovaCloud("public", None).connection(RequestContext(auth_token="t", service_catalog=[]))


def test_nova_counts_only_the_callers_servers() -> None:
    servers = {
        "mine": Server(
            id="mine",
            name="a",
            project_id="p1",
            status="ACTIVE",
            attached_volumes=[{"id": "v1"}, {"id": "v2"}],
        ),
        "theirs": Server(id="theirs", name="b", project_id="p2", status="ACTIVE", attached_volumes=[]),
    }

    def get_server(sid: str) -> Server:
        if sid not in servers:
            raise sdk_exc.NotFoundException("no")
        return servers[sid]

    conn = mock.Mock()
    conn.compute.get_server.side_effect = get_server
    cloud = nova.NovaCloud("public", None)
    with mock.patch.object(cloud, "connection", return_value=conn):
        found = cloud.find_servers(RequestContext(project_id="p1"), ["mine", "theirs", "missing"])
    assert found["mine"] is not None and found["mine"].name == "a"
    assert found["mine"].volume_ids == ["v1", "v2"]  # Nova's os-extended-volumes:volumes_attached
    assert found["theirs"] is None and found["missing"] is None


def test_nova_definition_lists_the_attachments() -> None:
    conn = mock.Mock()
    conn.compute.get_server.return_value = Server(id="s", name="a", project_id="p1", status="ACTIVE")
    conn.compute.volume_attachments.return_value = [SimpleNamespace(volume_id="v1", device="/dev/vdb")]
    cloud = nova.NovaCloud("public", None)
    with mock.patch.object(cloud, "connection", return_value=conn):
        definition = cloud.server_definition(RequestContext(project_id="p1"), "s")
        assert (definition["id"], definition["name"]) == ("s", "a")
        assert definition["volumes"] == [{"id": "v1", "device": "/dev/vdb"}]
        conn.compute.get_server.side_effect = sdk_exc.NotFoundException("no")
        with pytest.raises(errors.NotFound):
            cloud.server_definition(RequestContext(project_id="p1"), "s")


def test_stub_cloud_from_file(tmp_path: Path) -> None:
    path = tmp_path / "cloud.json"
    path.write_text(
        json.dumps({"p1": [{"id": "s1", "name": "web", "flavor": "m1", "volumes": [{"id": "v"}]}]})
    )
    cloud = StubCloud(str(path))
    found = cloud.find_servers(RequestContext(project_id="p1"), ["s1", "s2"])
    assert found["s1"] is not None and found["s2"] is None
    assert found["s1"].volume_ids == ["v"]
    assert cloud.server_definition(RequestContext(project_id="p1"), "s1")["flavor"] == "m1"
    assert cloud.find_servers(RequestContext(project_id="p2"), ["s1"])["s1"] is None
    with pytest.raises(LookupError):
        cloud.server_definition(RequestContext(project_id="p2"), "s1")


def test_stub_cloud_without_file_accepts_uuids() -> None:
    cloud = StubCloud(None)
    found = cloud.find_servers(RequestContext(project_id="p"), ["8f0c1c56-4c8b-4a57-9b7c-6e0d7a0f2d11", "x"])
    assert found["x"] is None and found["8f0c1c56-4c8b-4a57-9b7c-6e0d7a0f2d11"] is not None


def test_cloud_driver_names_the_cloud(t4o_conf: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    t4o_conf.set_override("region_name", "R1", group="clients")
    cloud = get_cloud(t4o_conf)  # the default: nova, from the product's entry point
    assert isinstance(cloud, nova.NovaCloud) and (cloud.interface, cloud.region) == ("public", "R1")
    stubs.install(tmp_path / "site")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    t4o_conf.set_override("cloud_driver", "stub")
    servers = tmp_path / "servers.json"
    servers.write_text(json.dumps({"p1": [{"id": "s1", "name": "web"}]}))
    t4o_conf.set_override("servers_file", str(servers), group="stub_cloud")
    cloud = get_cloud(t4o_conf)
    assert isinstance(cloud, StubCloud)
    assert cloud.find_servers(RequestContext(project_id="p1"), ["s1"])["s1"] is not None


def test_an_unknown_cloud_driver_fails_the_start(t4o_conf: Any) -> None:
    t4o_conf.set_override("cloud_driver", "fake")
    with pytest.raises(
        drivers.DriverNotFound, match=r"cloud_driver = fake: no entry point fake in t4o.clouds"
    ):
        get_cloud(t4o_conf)
    with pytest.raises(drivers.DriverNotFound, match="cloud_driver = fake"):
        drivers.check(t4o_conf)


def test_a_servers_host_is_read_in_one_request_with_the_callers_token() -> None:
    ctx = RequestContext(
        auth_token="tok",
        service_catalog=[
            {"type": "compute", "endpoints": [{"interface": "public", "url": "http://nova/v2.1/"}]}
        ],
    )
    answers = {
        "http://nova/v2.1/servers/s1": (
            200,
            {"server": {"status": "ACTIVE", "OS-EXT-SRV-ATTR:host": "cmp1"}},
        ),
        "http://nova/v2.1/servers/s2": (200, {"server": {"status": "BUILD", "OS-EXT-SRV-ATTR:host": None}}),
        "http://nova/v2.1/servers/gone": (404, {}),
        "http://nova/v2.1/servers/s3": (503, {}),
    }
    asked = []

    def get(self: Any, url: str, raise_exc: bool = True) -> Any:
        asked.append((url, self.get_token()))
        code, body = answers[url]
        return SimpleNamespace(status_code=code, json=lambda: body, text="")

    cloud = nova.NovaCloud("public", None)
    with mock.patch.object(nova.ks_session.Session, "get", get):
        assert cloud.server_host(ctx, "s1") == ("ACTIVE", "cmp1")
        assert cloud.server_host(ctx, "s2") == ("BUILD", None)
        with pytest.raises(errors.NotFound):
            cloud.server_host(ctx, "gone")
        with pytest.raises(errors.ServiceUnavailable, match="503"):
            cloud.server_host(ctx, "s3")
    assert asked[0] == ("http://nova/v2.1/servers/s1", "tok") and len(asked) == 4
