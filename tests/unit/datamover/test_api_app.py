"""t4o.datamover.api.app with the agents' RPC client and the Nova lookup mocked: the shared REST path
(t4o.common.rest) gives datamover-api its JSON errors, body checks and clean 500s."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from werkzeug.test import Client

from t4o.datamover import config as dm_config
from t4o.datamover.api import app as dm_app

SERVICE = {"X-Auth-Token": "svc:service:admin"}
SERVER = "6f1c2a3e-0b7d-4c55-9a8e-2d4f1b9c7e10"  # fixed: in parametrize ids, same in every xdist worker
RESTORE = {
    "transfer": {
        "kind": "restore",
        "server_id": SERVER,
        "spec": {"vault": {"url": "/v"}, "disks": [{"ref": "s/d", "target": "vda"}]},
    }
}


@pytest.fixture
def client(t4o_conf: Any) -> Iterator[tuple[Client, mock.MagicMock]]:
    dm_config.register_opts(t4o_conf)
    t4o_conf.set_override("auth_strategy", "noauth")
    agents = mock.MagicMock()
    flask_app = dm_app.create_flask_app(t4o_conf, agents)
    wsgi = dm_app.request_id.RequestId(dm_app.rest_auth.wrap(flask_app, t4o_conf))
    with mock.patch.object(dm_app, "compute_host", return_value="compute-1"):
        yield Client(wsgi), agents
    t4o_conf.clear_override("auth_strategy")


def test_a_transfer_goes_to_the_agent_of_the_servers_host(client: tuple[Client, Any]) -> None:
    c, agents = client
    agents.start_transfer.return_value = {"id": "t1", "status": "running"}
    resp = c.post("/v2/transfers", json=RESTORE, headers=SERVICE)
    assert resp.status_code == 202, resp.json
    assert resp.json["transfer"] == {
        "id": "t1",
        "status": "running",
        "host": "compute-1",
        "server_id": SERVER,
    }
    _ctx, host, _tid, kind, spec = agents.start_transfer.call_args.args
    assert (host, kind, spec["domain"]) == ("compute-1", "restore", SERVER)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "This request needs a JSON body."),
        (b"{", "The body is not valid JSON"),
        (b'{"transfer": {"kind": "backup", "server_id": "x", "spec": {}}}',
         "Invalid body/transfer/server_id"),
        (b'{"transfer": {"kind": "restore", "server_id": "' + SERVER.encode() + b'", "spec": {}}}',
         "Invalid transfer/spec:"),
        (b'{"transfer": {"kind": "restore", "server_id": "a\\u0000"}}', "NUL character"),
    ],
)  # fmt: skip
def test_bad_bodies_are_400_naming_the_fault(client: tuple[Client, Any], body: bytes, message: str) -> None:
    c, agents = client
    resp = c.post("/v2/transfers", data=body, headers={**SERVICE, "Content-Type": "application/json"})
    assert resp.status_code == 400
    assert message in resp.json["error"]["message"]
    agents.start_transfer.assert_not_called()


def test_members_are_refused_with_a_json_error(client: tuple[Client, Any]) -> None:
    c, _agents = client
    resp = c.get(f"/v2/hosts/h/transfers/{uuid.uuid4()}", headers={"X-Auth-Token": "u:p:member"})
    assert resp.status_code == 403 and "services only" in resp.json["error"]["message"]


def test_unexpected_errors_are_a_clean_500(client: tuple[Client, Any]) -> None:
    c, agents = client
    agents.transfer_status.side_effect = RuntimeError("secret detail")
    resp = c.get(f"/v2/hosts/h/transfers/{uuid.uuid4()}", headers=SERVICE)
    assert resp.status_code == 500
    assert resp.json == {
        "error": {"code": 500, "message": "datamover-api failed to handle the request; see its log."}
    }


def test_unknown_paths_are_json_404(client: tuple[Client, Any]) -> None:
    c, _agents = client
    assert c.get("/v2/nothing", headers=SERVICE).json["error"]["code"] == 404


def test_the_host_of_a_server_is_the_one_its_transfer_would_run_on(client: tuple[Client, Any]) -> None:
    c, _agents = client
    resp = c.get(f"/v2/servers/{SERVER}/host", headers=SERVICE)
    assert resp.status_code == 200, resp.json
    assert resp.json == {"server": {"id": SERVER, "host": "compute-1"}}
    bad = c.get("/v2/servers/not-a-uuid/host", headers=SERVICE)
    assert bad.status_code == 400 and "a UUID is expected" in bad.json["error"]["message"], bad.json


@pytest.mark.parametrize(
    ("spec", "accepted"),
    [
        ({"disks": [{"ref": "s/d", "target": "vda"}], "power_off": True}, True),
        ({"disks": [], "volumes": [{"ref": "s/v", "volume_id": SERVER}]}, True),  # volumes only
        ({"disks": []}, False),  # nothing to write
        ({"disks": [], "volumes": []}, False),
        ({"disks": [{"ref": "s/d", "target": "vda"}], "power_off": "yes"}, False),
        ({"disks": [{"ref": "s/d", "target": "vda"}], "restart": {"volumes": [SERVER]}}, True),
        ({"disks": [{"ref": "s/d", "target": "vda"}], "restart": {"window": 8.5}}, True),
        ({"disks": [{"ref": "s/d", "target": "vda"}], "restart": {"window": 30}}, False),  # past Nova's 15 s
        ({"disks": [{"ref": "s/d", "target": "vda"}], "restart": {"volumes": ["vol 1"]}}, False),
        ({"disks": [{"ref": "s/d", "target": "vda"}], "restart": {"start": True}}, False),
    ],
)
def test_a_restore_writes_disks_or_volumes_or_both(
    client: tuple[Client, Any], spec: dict[str, Any], accepted: bool
) -> None:
    c, agents = client
    agents.start_transfer.return_value = {"id": "t1", "status": "running"}
    body = {"transfer": {**RESTORE["transfer"], "spec": {"vault": {"url": "/v"}, **spec}}}
    resp = c.post("/v2/transfers", json=body, headers=SERVICE)
    assert resp.status_code == (202 if accepted else 400), resp.json
