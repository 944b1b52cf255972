"""Where an owner's trust for scheduled jobs is kept: a hidden setting of their project.

The setting has category ``identity`` and type ``trust_id`` (Trilio's shape) and names its owner in its
metadata. Talking to Keystone is ``t4o.openstack.keystone_trusts``'s part; this module stores the id the
API got while the owner's token was at hand and finds it again for the cron service.
"""

from __future__ import annotations

from typing import Any

from oslo_config import cfg

from t4o.common.context import RequestContext
from t4o.common.log import get_logger
from t4o.db import api as db
from t4o.openstack import keystone_trusts

LOG = get_logger(__name__)

SETTING_TYPE = "trust_id"
SETTING_CATEGORY = "identity"


def find_trust_id(settings: list[Any], user_id: str) -> str | None:
    """The trust id among a project's settings that belongs to ``user_id`` (newest wins)."""
    found = [
        s
        for s in settings
        if s.type == SETTING_TYPE
        and s.category == SETTING_CATEGORY
        and (s.metadata_ or {}).get("user_id", s.user_id) == user_id
    ]
    found.sort(key=lambda s: s.updated_at)
    return str(found[-1].value) if found else None


def owner_trust_id(project_id: str, user_id: str) -> str | None:
    """The trust ``user_id`` gave for the scheduled jobs of ``project_id``, if any."""
    return find_trust_id(db.setting_list(project_id), user_id)


def ensure_trust(conf: cfg.ConfigOpts, ctx: RequestContext) -> str:
    """The caller's trust for scheduled jobs in their project: reused while it works, else a new one.

    Called when a workload gets an enabled schedule, while the caller's own token is at hand.
    """
    existing = owner_trust_id(ctx.project, ctx.user_id or "")
    if existing is not None:
        try:
            keystone_trusts.trust_session(conf, existing)
            return existing
        except keystone_trusts.TrustError:
            LOG.info("Trust %s of user %s no longer works; creating a new one", existing, ctx.user_id)
    trust_id = keystone_trusts.create_trust(conf, keystone_trusts.owner_session(conf, ctx))
    db.setting_upsert(
        ctx.project,
        ctx.user_id or "",
        [
            {
                "name": f"trust-{ctx.user_id}",
                "value": trust_id,
                "category": SETTING_CATEGORY,
                "type": SETTING_TYPE,
                "description": "Keystone trust for the scheduled jobs of this user's workloads",
                "is_hidden": True,
                "metadata": {"user_id": ctx.user_id, "role_name": ",".join(conf.trustee.trustee_role)},
            }
        ],
        create_only=False,
    )
    return trust_id
