"""The mount routes of t4o.datamover.api.app with the agents' RPC client and the Nova lookup mocked: the
request goes to the agent of the server's host, and the answer names the host."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from werkzeug.test import Client

from t4o.common import errors
from t4o.datamover import config as dm_config
from t4o.datamover.api import app as dm_app

SERVICE = {"X-Auth-Token": "svc:service:admin"}
SERVER = str(uuid.uuid4())
MOUNT_ID = str(uuid.uuid4())
SPEC = {"vault": {"url": "/v", "password": "p"}, "disks": [{"ref": "snap/vm_vda", "serial": "t4o-1a2b"}]}
VIEW = {
    "id": MOUNT_ID,
    "host": "compute-1",
    "server_id": SERVER,
    "status": "mounted",
    "disks": [{"ref": "snap/vm_vda", "serial": "t4o-1a2b", "device": "vdb"}],
    "last_read_at": None,
    "mounted_at": "2026-12-07T08:00:00+00:00",
}


def body(resp: Any) -> dict[str, Any]:
    data = resp.get_json()
    assert isinstance(data, dict), resp.data
    return data


@pytest.fixture
def client(t4o_conf: Any) -> Iterator[tuple[Client, mock.MagicMock]]:
    dm_config.register_opts(t4o_conf)
    t4o_conf.set_override("auth_strategy", "noauth")
    agents = mock.MagicMock()
    wsgi = dm_app.request_id.RequestId(
        dm_app.rest_auth.wrap(dm_app.create_flask_app(t4o_conf, agents), t4o_conf)
    )
    with mock.patch.object(dm_app, "compute_host", return_value="compute-1"):
        yield Client(wsgi), agents
    t4o_conf.clear_override("auth_strategy")


def test_a_mount_goes_to_the_agent_of_the_servers_host(client: tuple[Client, Any]) -> None:
    c, agents = client
    agents.mount.return_value = VIEW
    resp = c.post(
        "/v2/mounts", json={"mount": {"id": MOUNT_ID, "server_id": SERVER, "spec": SPEC}}, headers=SERVICE
    )
    assert resp.status_code == 200, resp.data
    assert body(resp) == {"mount": VIEW}
    _ctx, host, mount_id, server_id, spec = agents.mount.call_args.args
    assert (host, mount_id, server_id, spec) == ("compute-1", MOUNT_ID, SERVER, SPEC)


def test_status_and_dismount_address_the_host_in_the_url(client: tuple[Client, Any]) -> None:
    c, agents = client
    agents.mount_status.return_value = VIEW
    agents.dismount.return_value = {**VIEW, "status": "dismounted"}
    got = c.get(f"/v2/hosts/compute-2/mounts/{MOUNT_ID}", headers=SERVICE)
    assert got.status_code == 200 and body(got)["mount"]["host"] == "compute-2"
    assert agents.mount_status.call_args.args[1:] == ("compute-2", MOUNT_ID)
    gone = c.delete(f"/v2/hosts/compute-2/mounts/{MOUNT_ID}", headers=SERVICE)
    assert gone.status_code == 200 and body(gone)["mount"]["status"] == "dismounted"
    assert agents.dismount.call_args.args[1:] == ("compute-2", MOUNT_ID)
    agents.mount_status.return_value = agents.dismount.return_value = None
    assert c.get(f"/v2/hosts/compute-2/mounts/{MOUNT_ID}", headers=SERVICE).status_code == 404
    assert c.delete(f"/v2/hosts/compute-2/mounts/{MOUNT_ID}", headers=SERVICE).status_code == 404


def test_an_agent_refusal_is_a_400_naming_it(client: tuple[Client, Any]) -> None:
    c, agents = client
    agents.mount.side_effect = errors.BadRequest("The datamover agent on host compute-1 refused: not running")
    resp = c.post(
        "/v2/mounts", json={"mount": {"id": MOUNT_ID, "server_id": SERVER, "spec": SPEC}}, headers=SERVICE
    )
    assert resp.status_code == 400 and "refused: not running" in body(resp)["error"]["message"]
