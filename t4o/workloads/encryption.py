"""Encrypted workloads: a key of the workload's own in the vault, unlocked with its Barbican secret.

A workload created with ``encryption: true`` names a Barbican secret (``secret_uuid``). Its first
snapshot gives it a random key on the backup target, wrapped by the secret's payload (the vault's
``keys/<workload_id>``); every snapshot and restore unlocks that key again with the secret, read with
the owner's credentials (the job's token, or the owner's trust for a scheduled job). The payload stays
in the process that read it: what goes to a datamover agent (over HTTP and RPC) is the secret's id and
a trust id, with which the agent reads the secret itself (t4o.datamover.agent.operations.open_vault).
"""

from __future__ import annotations

from typing import Any

from keystoneauth1 import session as ks_session

from t4o.common import config, errors
from t4o.common.config import CONF
from t4o.common.context import RequestContext
from t4o.common.log import get_logger
from t4o.openstack import barbican, keystone_trusts
from t4o.openstack.connection import user_connection
from t4o.policies import trusts
from t4o.vault import Repository, TargetUnavailable, WorkloadKeyError
from t4o.workloads import targets

LOG = get_logger(__name__)


class EncryptionUnavailable(errors.BadRequest):
    """An encrypted workload's key cannot be had: its secret is gone or unreadable, or does not unlock it."""


def _interface() -> str:
    config.ensure_registered()
    return str(CONF.clients.endpoint_type)


def _session(ctx: RequestContext) -> ks_session.Session:
    return user_connection(ctx, _interface(), CONF.clients.region_name).session


def _label(workload: Any) -> str:
    return f"encrypted workload {workload.id}"


def _payload(workload: Any, ref: str, ctx: RequestContext) -> bytes:
    try:
        return barbican.secret_payload(_session(ctx), ref, _interface())
    except (barbican.SecretUnavailable, keystone_trusts.TrustError) as exc:
        raise EncryptionUnavailable(f"{_label(workload)}: {exc}") from None


def unlock(repo: Repository, workload: Any, ctx: RequestContext, *, create: bool = False) -> None:
    """Unlock the workload's key in ``repo`` with its secret, read as the job's user; ``create`` gives
    the workload its key when it has none yet (its first snapshot). Nothing for a clear workload."""
    if not workload.encryption:
        return
    if not workload.secret_uuid:
        raise EncryptionUnavailable(f"{_label(workload)} names no Barbican secret (secret_uuid)")
    payload = _payload(workload, workload.secret_uuid, ctx)
    try:
        if create:
            repo.create_workload_key(workload.id, workload.secret_uuid, payload)
        else:
            repo.unlock_workload(workload.id, payload)
    except WorkloadKeyError as exc:
        raise EncryptionUnavailable(f"{_label(workload)}: {exc}") from None


def agent_trust(workload: Any, ctx: RequestContext) -> str:
    """A trust of the job's user with which a datamover agent reads the workload's secret: the job's own
    (a scheduled job), else the owner's trust, made now while their token is at hand if needed."""
    if getattr(ctx, "trust_id", None):
        return str(ctx.trust_id)
    try:
        return trusts.ensure_trust(CONF, ctx)
    except keystone_trusts.TrustError as exc:
        raise EncryptionUnavailable(
            f"{_label(workload)}: the datamover needs a trust to read its secret: {exc}"
        ) from None


def vault_spec(workload: Any, ctx: RequestContext) -> dict[str, Any]:
    """How an agent opens the workload's target and, for an encrypted workload, unlocks its key: the
    secret's id and a trust id, never the key."""
    spec = targets.spec_for_workload(workload)
    if workload.encryption:
        spec["encryption"] = {
            "workload_id": workload.id,
            "secret_ref": workload.secret_uuid,
            "trust_id": agent_trust(workload, ctx),
            "interface": _interface(),
        }
    return spec


def rotate(workload: Any, new_ref: str, ctx: RequestContext) -> None:
    """Re-wrap the workload's key with the secret ``new_ref`` (the old and the new secret read as the
    caller): the key object on the target changes, no data is rewritten. A workload without a key yet
    (no snapshot) only has the new secret checked."""
    if not workload.encryption:
        raise EncryptionUnavailable(
            f"Workload {workload.id} is not encrypted: its secret_uuid cannot be changed (encryption is "
            "chosen when a workload is created)."
        )
    new = _payload(workload, new_ref, ctx)
    try:
        repo = targets.open_for_workload(workload)
    except TargetUnavailable as exc:
        raise errors.Conflict(f"{_label(workload)}: its key cannot be re-wrapped now: {exc}") from None
    try:
        info = repo.workload_key_info(workload.id)
        if info is None:
            return
        if info["secret_ref"] == new_ref:  # re-wrapped already (its database update did not happen)
            repo.unlock_workload(workload.id, new)
            return
        old = _payload(workload, workload.secret_uuid, ctx)
        repo.rewrap_workload_key(workload.id, old, new_ref, new)
    except WorkloadKeyError as exc:
        raise EncryptionUnavailable(f"{_label(workload)}: {exc}") from None
    finally:
        repo.backend.close()
    LOG.info("Workload %s: key re-wrapped with secret %s", workload.id, new_ref)
