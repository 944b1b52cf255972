"""An encrypted workload's key against devcloud's Barbican and Keystone: the worker unlocks it with the
owner's token, an agent with only the secret's id and the owner's trust, rotation re-wraps it, and a
deleted or foreign secret fails with a message that says so."""

from __future__ import annotations

import base64
import json
import os
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from openstack.connection import Connection

from t4o.common.context import RequestContext
from t4o.datamover.agent import operations
from t4o.openstack import keystone_trusts as kt
from t4o.vault import PosixBackend, Repository
from t4o.workloads import encryption
from t4o.workloads.flows import config as flow_config
from tests.fixtures.barbican import make_secret
from tests.fixtures.devcloud import Devcloud, use_devcloud_trustee

MiB = 1 << 20


@pytest.fixture
def conf(t4o_conf: Any, devcloud: Devcloud, tmp_path: Path) -> Any:
    flow_config.ensure_registered(t4o_conf)
    use_devcloud_trustee(t4o_conf, devcloud)
    t4o_conf.set_override("url", str(tmp_path / "vault"), group="backup_target")
    return t4o_conf


def _context(conn: Connection) -> RequestContext:
    access = conn.session.auth.get_access(conn.session)
    return RequestContext(
        user_id=access.user_id,
        project_id=access.project_id,
        auth_token=access.auth_token,
        roles=list(access.role_names),
        service_catalog=list(access.service_catalog.catalog),
    )


def test_worker_and_agent_unlock_through_barbican_and_the_trust(
    conf: Any, devcloud: Devcloud, tmp_path: Path
) -> None:
    demo, other = devcloud.connection("devcloud-demo"), devcloud.connection("devcloud-other")
    key, new_key = os.urandom(32), os.urandom(32)
    secret, new_secret = make_secret(demo, key), make_secret(demo, new_key)
    foreign = make_secret(other, os.urandom(32))
    ctx = _context(demo)
    wl = SimpleNamespace(
        id=f"wl-{uuid.uuid4().hex[:8]}", encryption=True, secret_uuid=secret, backup_target_id=None
    )
    disk = tmp_path / "disk.raw"
    model = os.urandom(3 * MiB)
    disk.write_bytes(model)
    trust_id = None
    try:
        # The worker: the first snapshot makes the key, wrapped by the secret read with demo's token.
        repo = Repository.init(PosixBackend(tmp_path / "vault", fsync=False), chunk_size=MiB)
        encryption.unlock(repo, wl, ctx, create=True)
        m = repo.backup_disk(
            str(disk), "vda", workload_id=wl.id, snapshot_id="s1", metadata={"vm": "definition"}
        )
        assert m.keys == "workload"

        # What goes to the agent: ids only.
        spec = encryption.vault_spec(wl, ctx)
        trust_id = spec["encryption"]["trust_id"]
        assert spec["encryption"] == {
            "workload_id": wl.id, "secret_ref": secret, "trust_id": trust_id, "interface": "public",
        }  # fmt: skip
        sent = json.dumps(spec).encode()
        for material in (key, repo.require_workload_key(wl.id).key):
            for form in (material, material.hex().encode(), base64.b64encode(material)):
                assert form not in sent

        # The agent (another repository object: nothing unlocked) reads the secret through the trust.
        agent_repo = operations.open_vault({"vault": spec}, conf)
        restored = tmp_path / "restored.raw"
        agent_repo.restore_disk(m.ref, str(restored))
        assert restored.read_bytes() == model
        assert agent_repo.get_manifest(m.ref).metadata == {"vm": "definition"}

        # Rotation to a new secret: the data stays, the old secret no longer opens it.
        repo.rewrap_workload_key(wl.id, key, new_secret, new_key)
        with pytest.raises(encryption.EncryptionUnavailable, match=f"wrapped by secret {new_secret}"):
            encryption.unlock(Repository.open(repo.backend), wl, ctx)
        wl.secret_uuid = new_secret
        encryption.unlock(Repository.open(repo.backend), wl, ctx)

        # A secret of another project: the owner cannot read it.
        wl.secret_uuid = foreign
        with pytest.raises(encryption.EncryptionUnavailable, match="cannot be read by the workload's owner"):
            encryption.unlock(Repository.open(repo.backend), wl, ctx)

        # The secret deleted: snapshots and restores fail, saying so, in the worker and in the agent.
        wl.secret_uuid = new_secret
        demo.key_manager.delete_secret(new_secret)
        with pytest.raises(encryption.EncryptionUnavailable, match="does not exist"):
            encryption.unlock(Repository.open(repo.backend), wl, ctx, create=True)
        with pytest.raises(operations.EncryptionError, match="does not exist"):
            operations.open_vault(
                {"vault": {**spec, "encryption": {**spec["encryption"], "secret_ref": new_secret}}}, conf
            )
    finally:
        for s in (secret, new_secret):
            demo.key_manager.delete_secret(s, ignore_missing=True)
        other.key_manager.delete_secret(foreign, ignore_missing=True)
        if trust_id:
            kt.delete_trust(demo.session, trust_id)
