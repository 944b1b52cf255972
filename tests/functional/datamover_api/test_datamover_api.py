"""datamover-api and a datamover agent as real processes over RabbitMQ (noauth on loopback): input
checks, the services-only policy, and what callers see when a transfer or an agent is missing."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.fixtures.control_plane import ControlPlane

ADMIN = "svc:service:admin"
SERVER = b"6f1c2a3e-0b7d-4c55-9a8e-2d4f1b9c7e10"  # fixed: in parametrize ids, same in every xdist worker
MEMBER = "alice:demo:member"


def call(cp: ControlPlane, method: str, path: str, token: str = ADMIN, **kwargs: object) -> requests.Response:
    return requests.request(method, cp.url + path, headers={"X-Auth-Token": token}, timeout=30, **kwargs)  # type: ignore[arg-type]


def test_version_document_is_public(datamover: tuple[ControlPlane, str]) -> None:
    cp, _ = datamover
    assert requests.get(cp.url + "/", timeout=5).json()["versions"][0]["id"] == "v2.0"


def test_members_are_refused(datamover: tuple[ControlPlane, str]) -> None:
    cp, host = datamover
    resp = call(cp, "GET", f"/v2/hosts/{host}/transfers/{uuid.uuid4()}", token=MEMBER)
    assert resp.status_code == 403
    assert "services only" in resp.json()["error"]["message"]


BAD_SERVER = b'{"transfer": {"kind": "backup", "server_id": "x", "spec": {}}}'
EMPTY_SPEC = b'{"transfer": {"kind": "backup", "server_id": "' + SERVER + b'", "spec": {}}}'
BAD_REF = (
    b'{"transfer": {"kind": "restore", "server_id": "' + SERVER + b'", '
    b'"spec": {"vault": {"url": "/v"}, "disks": [{"ref": "../x", "target": "vda"}]}}}'
)

BAD_VOLUME = (
    b'{"transfer": {"kind": "restore", "server_id": "' + SERVER + b'", '
    b'"spec": {"vault": {"url": "/v"}, "disks": [{"ref": "s/d", "target": "vda"}], '
    b'"volumes": [{"ref": "s/v", "volume_id": "../../etc"}]}}}'
)
BAD_CINDER_SNAPSHOT = (
    b'{"transfer": {"kind": "backup", "server_id": "' + SERVER + b'", '
    b'"spec": {"vault": {"url": "/v"}, "snapshot_id": "s", "workload_id": "w", "checkpoint": "c", '
    b'"disk_id_prefix": "vm", "volumes": [{"volume_id": "' + SERVER + b'"}]}}}'
)
BAD_HOOK_TIMEOUT = (
    b'{"transfer": {"kind": "backup", "server_id": "' + SERVER + b'", '
    b'"spec": {"vault": {"url": "/v"}, "snapshot_id": "s", "workload_id": "w", "checkpoint": "c", '
    b'"disk_id_prefix": "vm", "guest_hooks": {"pre_freeze": {"command": "a", "argv": ["a"]}, "timeout": 0}}}}'
)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{", "not valid JSON"),
        (BAD_SERVER, "Invalid body/transfer/server_id"),
        (EMPTY_SPEC, "Invalid transfer/spec:"),
        (BAD_REF, "Invalid transfer/spec/disks/0/ref"),
        (BAD_VOLUME, "Invalid transfer/spec/volumes/0/volume_id"),
        (BAD_CINDER_SNAPSHOT, "Invalid transfer/spec/volumes/0"),
        (BAD_HOOK_TIMEOUT, "Invalid transfer/spec/guest_hooks/timeout"),
    ],
)
def test_bad_bodies_get_400_with_the_field_at_fault(
    datamover: tuple[ControlPlane, str], body: bytes, message: str
) -> None:
    cp, _ = datamover
    resp = call(cp, "POST", "/v2/transfers", data=body)
    assert resp.status_code == 400, resp.text
    assert message in resp.json()["error"]["message"]


def test_unknown_transfer_is_404_from_the_live_agent(datamover: tuple[ControlPlane, str]) -> None:
    cp, host = datamover
    tid = str(uuid.uuid4())
    resp = call(cp, "GET", f"/v2/hosts/{host}/transfers/{tid}")
    assert resp.status_code == 404
    assert f"unknown to the datamover agent on host {host}" in resp.json()["error"]["message"]


def test_a_host_without_agent_is_503_naming_it(datamover: tuple[ControlPlane, str]) -> None:
    cp, _ = datamover
    resp = call(cp, "GET", f"/v2/hosts/nowhere/transfers/{uuid.uuid4()}")
    assert resp.status_code == 503
    assert "agent on host nowhere did not answer" in resp.json()["error"]["message"]


def test_bad_addresses_are_400(datamover: tuple[ControlPlane, str]) -> None:
    cp, host = datamover
    assert call(cp, "GET", f"/v2/hosts/{host}/transfers/not-a-uuid").status_code == 400
    assert call(cp, "DELETE", f"/v2/hosts/-bad/transfers/{uuid.uuid4()}").status_code == 400
