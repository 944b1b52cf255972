"""Trilio's ``/trusts`` calls: the trusts a project's users gave T4O, created and revoked on request.

A trust is what ``t4o.policies.trusts`` keeps for scheduled jobs (one model): a hidden setting
``trust-<user id>`` of type ``trust_id`` whose value is the Keystone trust id. Creating one through the
API delegates the caller's role (``role_name``, default ``[trustee] trustee_role``) in their project to
T4O's service user and replaces the caller's previous trust; deleting one revokes it in Keystone too.
"""

from __future__ import annotations

from typing import Any

from keystoneauth1 import exceptions as ks_exc
from oslo_config import cfg

from t4o.common import errors, policy
from t4o.common.context import RequestContext
from t4o.common.log import get_logger
from t4o.db import api as db
from t4o.openstack import keystone_trusts
from t4o.policies import trusts

LOG = get_logger(__name__)


def _is_trust(setting: Any) -> bool:
    return bool(setting.type == trusts.SETTING_TYPE and setting.category == trusts.SETTING_CATEGORY)


def _owner_session(conf: cfg.ConfigOpts, ctx: RequestContext) -> Any:
    """The caller's own Keystone session: only the caller can delegate (or revoke) their role."""
    if not ctx.auth_token or ctx.trust_id:
        raise errors.Forbidden("Trusts are created and revoked with the caller's own Keystone token.")
    return keystone_trusts.owner_session(conf, ctx)


def list_trusts(ctx: RequestContext) -> list[Any]:
    """The trusts of the caller's project (every user's), oldest first."""
    policy.authorize(ctx, "trust:get")
    rows = db.setting_list(ctx.project, db.Page(sort_key="name", sort_dir="asc"))  # no limit: all
    found = [s for s in rows if _is_trust(s)]
    found.sort(key=lambda s: s.created_at)
    return found


def get_trust(ctx: RequestContext, name: str) -> Any:
    policy.authorize(ctx, "trust:get")
    try:
        setting = db.setting_get(ctx.project, name)
    except errors.NotFound:
        setting = None
    if setting is None or not _is_trust(setting):
        raise errors.NotFound(f"Trust {name} not found.")
    return setting


def create_trust(conf: cfg.ConfigOpts, ctx: RequestContext, role_name: str, is_cloud_trust: bool) -> Any:
    """Delegate ``role_name`` of the caller to T4O's service user; the trust's setting.

    A cloud trust (Trilio's for the cloud administrator) is for administrators only.
    """
    policy.authorize(ctx, "trust:create")
    if is_cloud_trust and not ctx.is_admin:
        raise errors.Forbidden("Only an administrator can create a cloud trust.")
    keystone_trusts.ensure_registered(conf)
    roles = [role_name] if role_name else list(conf.trustee.trustee_role)
    owner = _owner_session(conf, ctx)
    previous = trusts.owner_trust_id(ctx.project, ctx.user_id or "")
    trust_id = keystone_trusts.create_trust(conf, owner, roles)
    (setting,) = db.setting_upsert(
        ctx.project,
        ctx.user_id or "",
        [
            {
                "name": f"trust-{ctx.user_id}",
                "value": trust_id,
                "category": trusts.SETTING_CATEGORY,
                "type": trusts.SETTING_TYPE,
                "description": "Keystone trust for the scheduled jobs of this user's workloads",
                "is_hidden": True,
                "metadata": {
                    "user_id": ctx.user_id or "",
                    "role_name": ",".join(roles),
                    "is_cloud_trust": "true" if is_cloud_trust else "false",
                },
            }
        ],
        create_only=False,
    )
    if previous and previous != trust_id:  # the new trust replaces it: revoke the old one
        try:
            keystone_trusts.delete_trust(owner, previous)
        except Exception:  # the new trust works; an old one left behind is only untidy
            LOG.warning("Could not revoke the replaced trust %s of user %s", previous, ctx.user_id)
    return setting


def delete_trust(conf: cfg.ConfigOpts, ctx: RequestContext, name: str) -> None:
    """Revoke the trust in Keystone (with the caller's token) and forget it; scheduled jobs of its owner
    fail until they give a new one."""
    policy.authorize(ctx, "trust:delete")
    setting = get_trust(ctx, name)
    try:
        keystone_trusts.delete_trust(_owner_session(conf, ctx), str(setting.value))
    except ks_exc.HttpError as exc:  # e.g. 403: only the trust's owner (or an admin) may revoke it
        raise errors.Forbidden(f"Keystone did not revoke trust {setting.value}: {exc.message}") from None
    db.setting_delete(ctx.project, name)
    LOG.info("Trust %s (%s) deleted by user %s", name, setting.value, ctx.user_id)
