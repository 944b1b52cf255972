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

from t4o.common import errors
from t4o.common.config import CONF
from t4o.common.context import RequestContext
from t4o.common.log import get_logger
from t4o.openstack import barbican, endpoints, keystone_trusts
from t4o.openstack.connection import user_connection
from t4o.policies import trusts
from t4o.vault import Repository, TargetUnavailable, VaultError, WorkloadKeyError
from t4o.vault.keys import MIN_SECRET_LEN, workload_key_key
from t4o.workloads import targets

LOG = get_logger(__name__)


class EncryptionUnavailable(errors.BadRequest):
    """An encrypted workload's key cannot be had: its secret is gone or unreadable, or does not unlock it."""


def _session(ctx: RequestContext) -> ks_session.Session:
    return user_connection(ctx).session  # on [clients]' interface and region


def _label(workload: Any) -> str:
    return f"encrypted workload {workload.id}"


def read_secret(ref: str, ctx: RequestContext) -> bytes:
    """The payload of the Barbican secret ``ref`` read as the context's user; SecretUnavailable (naming
    the secret, never showing its payload) when it is gone, unreadable, or too short to wrap a key."""
    try:
        payload = barbican.secret_payload(_session(ctx), ref, endpoints.interface())
    except barbican.SecretUnavailable:
        raise
    except (errors.BadRequest, keystone_trusts.TrustError) as exc:  # no token or trust to read it with
        raise barbican.SecretUnavailable(f"Barbican secret {ref} cannot be read: {exc}") from None
    if len(payload) < MIN_SECRET_LEN:
        raise barbican.SecretUnavailable(
            f"Barbican secret {ref} holds {len(payload)} bytes: a workload key needs a secret of at least "
            f"{MIN_SECRET_LEN} bytes (e.g. a 256-bit symmetric key)."
        )
    return payload


def _payload(workload: Any, ref: str, ctx: RequestContext) -> bytes:
    try:
        return read_secret(ref, ctx)
    except barbican.SecretUnavailable as exc:
        raise EncryptionUnavailable(f"{_label(workload)}: {exc}") from None


def check_secret(ref: str | None, ctx: RequestContext) -> None:
    """Before a workload is created encrypted: the caller can read the secret and it can wrap a key
    (400 naming the secret otherwise), so its first snapshot does not fail for it."""
    if not ref:
        raise EncryptionUnavailable("An encrypted workload needs secret_uuid (a Barbican secret).")
    try:
        read_secret(ref, ctx)
    except barbican.SecretUnavailable as exc:
        raise EncryptionUnavailable(f"secret_uuid: {exc}") from None


def unlock_stored(repo: Repository, workload_id: str, ctx: RequestContext) -> str:
    """Unlock a workload's key on ``repo`` knowing nothing but the target (an import): its key object
    names the secret that wraps it, read here as the caller. Returns that secret's reference;
    EncryptionUnavailable naming it when it cannot be read or does not unwrap the key."""
    label = f"encrypted workload {workload_id}"
    try:
        info = repo.workload_key_info(workload_id)
    except VaultError as exc:
        raise EncryptionUnavailable(f"{label}: {exc}") from None
    if info is None:
        raise EncryptionUnavailable(
            f"{label}: its documents are sealed with its own key, but the backup target holds no key for "
            f"it ({workload_key_key(workload_id)} is missing)"
        )
    ref = str(info["secret_ref"])
    try:
        repo.unlock_workload(workload_id, read_secret(ref, ctx))
    except (barbican.SecretUnavailable, VaultError) as exc:
        raise EncryptionUnavailable(
            f"{label}: its key is wrapped by Barbican secret {ref}, which the importing user must be able "
            f"to read (the secret's project's admin or member, or a read ACL on the secret): {exc}"
        ) from None
    return ref


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
            "interface": endpoints.interface(),
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
