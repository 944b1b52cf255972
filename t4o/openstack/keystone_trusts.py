"""Keystone trusts that let scheduled jobs act for a workload's owner when nobody is logged in.

When a workload gets a schedule, its owner (with their own token) delegates a role in their project to
the T4O service user (``[trustee]``) through a trust with impersonation: a token obtained through the
trust names the owner as user, so Nova, Cinder and Glance see the owner acting. The cron service turns
the trust into a token for each scheduled run (``t4o.policies.trusts`` keeps its id as a project setting).
A trust that was revoked, or expired, ends in ``TrustError`` with a message that says what to do.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from oslo_config import cfg

from t4o.common import errors
from t4o.common.context import RequestContext
from t4o.common.log import get_logger
from t4o.openstack import endpoints

LOG = get_logger(__name__)

GROUP = "trustee"
OPTS = [
    cfg.URIOpt("auth_url", help="Keystone v3 URL the service user authenticates at."),
    cfg.StrOpt("username", default="t4o", help="The T4O service user: the trustee of every trust."),
    cfg.StrOpt("password", secret=True, help="Password of the service user."),
    cfg.StrOpt("user_domain_name", default="Default", help="Domain of the service user."),
    cfg.ListOpt(
        "trustee_role",
        default=["member"],
        help="Roles in the owner's project that a trust delegates to the service user; the owner must "
        "hold them.",
    ),
    cfg.IntOpt(
        "trust_expires_days",
        default=0,
        min=0,
        help="Days after which a new trust expires (0: never; the owner can still revoke it).",
    ),
]


class TrustError(errors.Forbidden):
    """The trust cannot give a token: revoked, expired, or the owner lost the delegated role."""


def ensure_registered(conf: cfg.ConfigOpts = cfg.CONF) -> None:
    # Asked of each ConfigOpts, not once per process: a test's own ConfigOpts first must not leave CONF out.
    if GROUP not in conf:
        conf.register_opts(OPTS, group=GROUP)


def _identity_url(conf: cfg.ConfigOpts) -> str:
    url = conf.trustee.auth_url
    if not url or not conf.trustee.password:
        raise TrustError("Scheduled jobs need [trustee] auth_url and password (the T4O service user).")
    return str(url)


def service_session(conf: cfg.ConfigOpts) -> ks_session.Session:
    t = conf.trustee
    auth = v3.Password(
        auth_url=_identity_url(conf),
        username=t.username,
        password=t.password,
        user_domain_name=t.user_domain_name,
    )
    return ks_session.Session(auth=auth)


def create_trust(conf: cfg.ConfigOpts, owner: ks_session.Session, roles: list[str] | None = None) -> str:
    """A trust from the owner of ``owner`` (a project-scoped session) to the service user; its id.

    It delegates ``roles`` (default: ``[trustee] trustee_role``) in the owner's project.
    """
    ensure_registered(conf)
    roles = list(roles or conf.trustee.trustee_role)
    trustee_id = service_session(conf).get_user_id()
    body: dict[str, Any] = {
        "trustor_user_id": owner.get_user_id(),
        "trustee_user_id": trustee_id,
        "project_id": owner.get_project_id(),
        "impersonation": True,
        "roles": [{"name": r} for r in roles],
    }
    if conf.trustee.trust_expires_days:
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=conf.trustee.trust_expires_days)
        body["expires_at"] = expires.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    try:
        resp = owner.post(
            "/OS-TRUST/trusts", json={"trust": body}, endpoint_filter=endpoints.endpoint_filter("identity")
        )
    except ks_exc.Forbidden as exc:
        raise TrustError(
            f"Could not delegate role(s) {', '.join(roles)} to the T4O service user: {exc.message}"
        ) from None
    trust_id = str(resp.json()["trust"]["id"])
    LOG.info(
        "Trust %s created for user %s in project %s", trust_id, body["trustor_user_id"], body["project_id"]
    )
    return trust_id


def delete_trust(owner: ks_session.Session, trust_id: str) -> None:
    with contextlib.suppress(ks_exc.NotFound):  # already gone: what the caller wanted
        owner.delete(f"/OS-TRUST/trusts/{trust_id}", endpoint_filter=endpoints.endpoint_filter("identity"))


def trust_session(conf: cfg.ConfigOpts, trust_id: str) -> ks_session.Session:
    """A session of the service user through the trust (it acts as the owner); TrustError if unusable."""
    ensure_registered(conf)
    t = conf.trustee
    auth = v3.Password(
        auth_url=_identity_url(conf),
        username=t.username,
        password=t.password,
        user_domain_name=t.user_domain_name,
        trust_id=trust_id,
    )
    sess = ks_session.Session(auth=auth)
    try:
        sess.get_token()
    except (ks_exc.Unauthorized, ks_exc.NotFound, ks_exc.Forbidden):
        raise TrustError(
            f"Trust {trust_id} was revoked or has expired, or its owner lost the role(s) it delegates: "
            "the workload's owner must set its schedule again to give T4O a new trust."
        ) from None
    return sess


def trust_context(conf: cfg.ConfigOpts, trust_id: str, base: RequestContext) -> RequestContext:
    """``base`` (the owner's context) with a token and service catalog obtained through the trust."""
    sess = trust_session(conf, trust_id)
    access = sess.auth.get_access(sess)  # type: ignore[union-attr]
    ctx = RequestContext.from_dict(base.to_dict())
    ctx.auth_token = access.auth_token
    ctx.user_id = access.user_id
    ctx.project_id = access.project_id
    ctx.roles = list(access.role_names)
    ctx.service_catalog = list(access.service_catalog.catalog)
    ctx.user_auth_plugin = sess.auth
    ctx.trust_id = trust_id
    return ctx


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP, OPTS)]


def owner_session(conf: cfg.ConfigOpts, ctx: RequestContext) -> ks_session.Session:
    """A project-scoped session of the API caller, from their (non-trust) token."""
    ensure_registered(conf)
    assert ctx.auth_token, "an API call without a token"
    auth = v3.Token(auth_url=_identity_url(conf), token=ctx.auth_token, project_id=ctx.project_id)
    return ks_session.Session(auth=auth)
