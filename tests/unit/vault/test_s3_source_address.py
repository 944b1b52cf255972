"""t4o.vault.s3's source address (a dedicated backup network) without a server: the checks made before
any connection and the hook into botocore's HTTP session. The traffic itself is checked against a real
S3 server in tests/functional/vault/test_backup_network.py."""

from __future__ import annotations

import time
from types import SimpleNamespace

import boto3
import botocore
import pytest

from t4o.vault.backend import BackendError
from t4o.vault.s3 import S3Backend, bind_source_address, check_source_address

NOT_HERE = "192.0.2.10"  # TEST-NET-1: on no host


def client() -> object:
    return boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="a",
        aws_secret_access_key="b",
        region_name="us-east-1",
    )


def test_a_loopback_alias_is_an_address_of_this_host() -> None:
    assert check_source_address("127.0.0.2") == "127.0.0.2"


@pytest.mark.parametrize(
    ("address", "says"),
    [
        ("backup-net", "'backup-net' is not an IP address"),
        ("127.0.0.300", "is not an IP address"),
        (NOT_HERE, f"source address {NOT_HERE} is not an address of this host (Cannot assign requested"),
    ],
)
def test_a_source_address_this_host_cannot_use_is_refused(address: str, says: str) -> None:
    with pytest.raises(BackendError, match=r"source address") as caught:
        check_source_address(address)
    assert says in str(caught.value)


def test_the_backend_refuses_before_connecting() -> None:
    started = time.monotonic()
    with pytest.raises(BackendError) as caught:
        S3Backend(
            "bkt", endpoint="http://127.0.0.1:9", access_key="a", secret_key="b", source_address=NOT_HERE
        )
    assert time.monotonic() - started < 1.0  # no connection attempt, no retries
    assert str(caught.value).startswith("s3://bkt?endpoint=http://127.0.0.1:9: source address 192.0.2.10")


def test_the_hook_binds_direct_and_proxy_connections() -> None:
    s3 = client()
    bind_source_address(s3, "127.0.0.2")
    session = s3._endpoint.http_session  # type: ignore[attr-defined]
    assert session._manager.connection_pool_kw["source_address"] == ("127.0.0.2", 0)
    # What a proxy's pool manager would be made with.
    assert session._get_pool_manager_kwargs(proxy_headers={})["source_address"] == ("127.0.0.2", 0)
    proxy = session._get_proxy_manager("http://127.0.0.1:3128")
    assert proxy.connection_pool_kw["source_address"] == ("127.0.0.2", 0)


def test_an_unknown_botocore_session_is_an_error_not_silent_traffic() -> None:
    unknown = SimpleNamespace(_endpoint=SimpleNamespace(http_session=object()))
    with pytest.raises(BackendError) as caught:
        bind_source_address(unknown, "127.0.0.2")
    message = str(caught.value)
    assert "cannot bind S3 connections to the source address 127.0.0.2" in message
    assert f"botocore {botocore.__version__}" in message


def test_a_client_that_already_connected_cannot_be_bound() -> None:
    s3 = client()
    session = s3._endpoint.http_session  # type: ignore[attr-defined]
    session._manager.connection_from_url("http://127.0.0.1:9/")  # a pool made with the default source
    with pytest.raises(BackendError, match="cannot bind S3 connections"):
        bind_source_address(s3, "127.0.0.2")
