"""devcloud's Barbican: the key manager in the catalog, secrets stored and read back by their owner and
kept from other projects."""

from __future__ import annotations

import os

from openstack.connection import Connection

from tests.fixtures.barbican import make_secret
from tests.fixtures.devcloud import Devcloud


def test_barbican_is_the_key_manager_in_the_catalog(devcloud: Devcloud) -> None:
    demo = devcloud.connection("devcloud-demo")
    url = demo.session.get_endpoint(service_type="key-manager", interface="public")
    assert url is not None and url.startswith("http://127.0.0.1:9311")


def test_the_demo_user_stores_and_reads_a_secret(devcloud: Devcloud) -> None:
    demo = devcloud.connection("devcloud-demo")
    other = devcloud.connection("devcloud-other")
    key = os.urandom(32)
    secret_id = make_secret(demo, key)
    try:
        # The payload as stored: simple_crypto encrypted it with the project's key and decrypts it now.
        got = demo.key_manager.get_secret(secret_id)
        assert got.payload == key
        assert got.secret_type == "symmetric"
        assert _payload(demo, secret_id) == (200, key)
        # Another project gets neither the secret nor its payload.
        assert _payload(other, secret_id)[0] == 403
    finally:
        demo.key_manager.delete_secret(secret_id)
    assert _payload(demo, secret_id)[0] == 404


def _payload(conn: Connection, secret_id: str) -> tuple[int, bytes]:
    resp = conn.session.get(
        f"/v1/secrets/{secret_id}/payload",
        endpoint_filter={"service_type": "key-manager"},
        headers={"Accept": "application/octet-stream"},
        raise_exc=False,
    )
    return resp.status_code, resp.content
