"""Encrypted workloads' plumbing that needs no cloud: secret references, clear workloads left alone, and
the agent's spec carrying ids only."""

from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

import pytest
from keystoneauth1 import exceptions as ks_exc

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


class Session:
    """A keystoneauth session answering Barbican's two GETs, or failing to authenticate."""

    def __init__(self, payload: bytes | None = None, status: int = 200, auth_fails: bool = False) -> None:
        self.payload, self.status, self.auth_fails = payload, status, auth_fails

    def get(self, path: str, **kw: object) -> object:
        if self.auth_fails:
            raise ks_exc.Unauthorized("The request you have made requires authentication.")
        meta = {"content_types": {"default": "application/octet-stream"} if self.payload else {}}
        return SimpleNamespace(status_code=self.status, json=lambda: meta, content=self.payload)


@pytest.mark.parametrize(
    ("session", "expected"),
    [
        (Session(status=404), "does not exist"),
        (Session(status=403), "cannot be read by the workload's owner"),
        (Session(payload=None), "holds no payload"),
        (Session(payload=b"short"), "holds 5 bytes"),
        (Session(auth_fails=True), "token was refused"),
    ],
)
def test_a_secret_the_caller_cannot_use_is_refused_at_create_naming_it(
    session: Session, expected: str
) -> None:
    with (
        mock.patch.object(encryption, "_session", return_value=session),
        pytest.raises(encryption.EncryptionUnavailable, match=expected) as err,
    ):
        encryption.check_secret(UUID, RequestContext())
    assert err.value.http_status == 400 and UUID.lower() in str(err.value).lower()
    assert "short" not in str(err.value)  # never the payload


def test_a_readable_secret_of_a_key_s_length_passes() -> None:
    with mock.patch.object(encryption, "_session", return_value=Session(payload=b"k" * 32)):
        encryption.check_secret(UUID, RequestContext())
    with pytest.raises(encryption.EncryptionUnavailable, match="needs secret_uuid"):
        encryption.check_secret(None, RequestContext())


def test_create_refuses_an_unusable_secret_before_anything_is_created() -> None:
    from t4o.workloads import api as workloads_api

    body = {"name": "w", "instances": [], "encryption": True, "secret_uuid": UUID}
    ctx = RequestContext(user_id="u", project_id="p", roles=["member"])
    with (
        mock.patch.object(workloads_api.policy, "authorize"),
        mock.patch.object(workloads_api.db, "workload_type_get"),
        mock.patch.object(workloads_api.WorkloadAPI, "_check_instances", return_value=[]),
        mock.patch.object(workloads_api.hooks, "on_workload_create", return_value={}),
        mock.patch.object(workloads_api.backup_targets, "choose_for_new_workload", return_value=None),
        mock.patch.object(workloads_api.db, "workload_create") as create,
        mock.patch.object(encryption, "_session", return_value=Session(status=403)),
    ):
        with pytest.raises(encryption.EncryptionUnavailable, match=f"secret_uuid: Barbican secret {UUID}"):
            workloads_api.WorkloadAPI(cloud=mock.Mock()).create_workload(ctx, body)
        create.assert_not_called()


def test_rotation_to_an_unusable_secret_is_refused_before_the_target_is_touched() -> None:
    wl = SimpleNamespace(id="wl", encryption=True, secret_uuid="old", backup_target_id=None)
    with (
        mock.patch.object(encryption, "_session", return_value=Session(payload=b"short")),
        mock.patch.object(encryption.targets, "open_for_workload") as open_target,
        pytest.raises(encryption.EncryptionUnavailable, match=f"Barbican secret {UUID} holds 5 bytes"),
    ):
        encryption.rotate(wl, UUID, RequestContext())
    open_target.assert_not_called()
