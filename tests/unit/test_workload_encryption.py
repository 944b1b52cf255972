"""Encrypted workloads' plumbing that needs no cloud: secret references, clear workloads left alone, and
the agent's spec carrying ids only."""

from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

import pytest

from t4o.common.context import RequestContext
from t4o.openstack import barbican
from t4o.workloads import encryption

UUID = "0B7C7D5E-9B43-4B8E-8D8E-3F2F0C1A2B3C"


@pytest.mark.parametrize(
    "ref",
    [
        UUID,
        UUID.lower(),
        f"http://127.0.0.1:9311/v1/secrets/{UUID}",
        f"https://kms.example/v1/secrets/{UUID}/",
    ],
)
def test_a_secret_is_named_by_its_uuid_or_its_url(ref: str) -> None:
    assert barbican.secret_id(ref) == UUID.lower()


@pytest.mark.parametrize("ref", ["", "not-a-secret", "http://kms/v1/secrets/", UUID[:-1]])
def test_anything_else_is_refused_with_a_message(ref: str) -> None:
    with pytest.raises(barbican.SecretUnavailable, match="is not a Barbican secret"):
        barbican.secret_id(ref)


def test_a_clear_workload_reads_no_secret_and_sends_no_encryption() -> None:
    wl = SimpleNamespace(id="wl", encryption=False, secret_uuid=None, backup_target_id=None)
    repo = mock.Mock()
    encryption.unlock(repo, wl, RequestContext())
    assert not repo.method_calls
    with mock.patch.object(encryption.targets, "spec_for_workload", return_value={"url": "/v"}):
        assert encryption.vault_spec(wl, RequestContext()) == {"url": "/v"}
    with pytest.raises(encryption.EncryptionUnavailable, match="is not encrypted"):
        encryption.rotate(wl, UUID, RequestContext())


def test_the_agent_gets_ids_and_the_jobs_trust() -> None:
    wl = SimpleNamespace(id="wl", encryption=True, secret_uuid=UUID, backup_target_id=None)
    ctx = RequestContext()
    ctx.trust_id = "trust-of-the-scheduled-run"
    with mock.patch.object(encryption.targets, "spec_for_workload", return_value={"url": "/v"}):
        spec = encryption.vault_spec(wl, ctx)
    assert spec == {
        "url": "/v",
        "encryption": {
            "workload_id": "wl",
            "secret_ref": UUID,
            "trust_id": "trust-of-the-scheduled-run",
            "interface": "public",
        },
    }


def test_an_encrypted_workload_without_a_secret_fails_clearly() -> None:
    wl = SimpleNamespace(id="wl", encryption=True, secret_uuid=None)
    with pytest.raises(encryption.EncryptionUnavailable, match="names no Barbican secret"):
        encryption.unlock(mock.Mock(), wl, RequestContext())
