"""The mount routes of datamover-api with a live agent over RabbitMQ (noauth on loopback), and the
DatamoverClient calls the workloads side uses: input checks, unknown mounts, unreachable agents."""

from __future__ import annotations

import json
import uuid

import pytest
from keystoneauth1 import session as ks_session
from oslo_config import cfg

from t4o.datamover import config as dm_config
from t4o.datamover.client import DatamoverClient, TransferFailed
from tests.fixtures.control_plane import ControlPlane
from tests.functional.datamover_api.test_datamover_api import ADMIN, MEMBER, call

SERVER = str(uuid.uuid4())


VAULT = {"url": "/var/lib/t4o/vault", "password": None}


def body(**mount: object) -> bytes:
    base = {
        "id": str(uuid.uuid4()),
        "server_id": SERVER,
        "spec": {"vault": VAULT, "disks": [{"ref": "s/vda", "serial": "a"}]},
    }
    return json.dumps({"mount": {**base, **mount}}).encode()


def disks(*items: object) -> dict[str, object]:
    return {"vault": VAULT, "disks": list(items)}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "needs a JSON body"),
        (b"{", "not valid JSON"),
        (b'{"mount": {}}', "Invalid body/mount: 'id' is a required property"),
        (body(id="x"), "Invalid body/mount/id"),
        (body(server_id="../x"), "Invalid body/mount/server_id"),
        (body(extra=1), "Invalid body/mount: Additional properties"),
        (body(spec={"disks": [{"ref": "s/d", "serial": "a"}]}), "'vault' is a required property"),
        (
            body(spec={"vault": {"password": "p"}, "disks": [{"ref": "s/d", "serial": "a"}]}),
            "body/mount/spec/vault",
        ),
        (body(spec=disks()), "Invalid body/mount/spec/disks"),
        (body(spec=disks(*[{"ref": "s/d", "serial": "a"}] * 17)), "Invalid body/mount/spec/disks"),
        (body(spec=disks({"ref": "../d", "serial": "a"})), "Invalid body/mount/spec/disks/0/ref"),
        (body(spec=disks({"ref": "s/d", "serial": "a b"})), "Invalid body/mount/spec/disks/0/serial"),
        (body(spec=disks({"ref": "s/d", "serial": "x" * 21})), "Invalid body/mount/spec/disks/0/serial"),
        (body(spec=disks({"ref": "s/d"})), "'serial' is a required property"),
    ],
)
def test_bad_mount_bodies_get_400_naming_the_field(
    datamover: tuple[ControlPlane, str], data: bytes, message: str
) -> None:
    cp, _ = datamover
    resp = call(cp, "POST", "/v2/mounts", data=data)
    assert resp.status_code == 400, resp.text
    assert message in resp.json()["error"]["message"]


def test_members_cannot_mount(datamover: tuple[ControlPlane, str]) -> None:
    cp, host = datamover
    assert call(cp, "POST", "/v2/mounts", token=MEMBER, data=body()).status_code == 403
    assert call(cp, "GET", f"/v2/hosts/{host}/mounts/{uuid.uuid4()}", token=MEMBER).status_code == 403


def test_unknown_mounts_are_404_from_the_live_agent(datamover: tuple[ControlPlane, str]) -> None:
    cp, host = datamover
    mid = str(uuid.uuid4())
    for method in ("GET", "DELETE"):
        resp = call(cp, method, f"/v2/hosts/{host}/mounts/{mid}")
        assert resp.status_code == 404, resp.text
        assert (
            f"Mount {mid} is unknown to the datamover agent on host {host}" in resp.json()["error"]["message"]
        )
    listed = call(cp, "GET", f"/v2/hosts/{host}/mounts")
    assert listed.status_code == 200 and listed.json() == {"mounts": []}


def test_mount_addresses_are_checked(datamover: tuple[ControlPlane, str]) -> None:
    cp, host = datamover
    resp = call(cp, "GET", f"/v2/hosts/{host}/mounts/not-a-uuid")
    assert resp.status_code == 400 and "Invalid mount id" in resp.json()["error"]["message"]
    assert call(cp, "DELETE", f"/v2/hosts/-bad/mounts/{uuid.uuid4()}").status_code == 400
    resp = call(cp, "DELETE", f"/v2/hosts/nowhere/mounts/{uuid.uuid4()}")
    assert resp.status_code == 503
    assert "agent on host nowhere did not answer" in resp.json()["error"]["message"]


@pytest.fixture
def client(datamover: tuple[ControlPlane, str]) -> DatamoverClient:
    cp, _ = datamover
    conf = cfg.ConfigOpts()
    dm_config.register_opts(conf)
    conf([], project="t4o-test")
    conf.set_override("endpoint_override", cp.url + "/v2", group=dm_config.CLIENT_GROUP)
    dm = DatamoverClient(conf)
    dm.session = ks_session.Session(additional_headers={"X-Auth-Token": ADMIN})
    return dm


def test_client_reads_unknown_mounts_as_none_and_errors_as_transfer_failed(
    datamover: tuple[ControlPlane, str], client: DatamoverClient
) -> None:
    _, host = datamover
    assert client.mount_status(host, str(uuid.uuid4())) is None
    assert client.dismount(host, str(uuid.uuid4())) is None
    with pytest.raises(TransferFailed, match="answered 400: Invalid body/mount/spec/disks/0/serial"):
        client.mount(str(uuid.uuid4()), SERVER, disks({"ref": "s/d", "serial": "no spaces"}))
    with pytest.raises(TransferFailed, match=r"answered 503: .*agent on host nowhere did not answer"):
        client.mount_status("nowhere", str(uuid.uuid4()))
