"""An openstacksdk connection acting as the caller (every service: Nova, Neutron, Cinder, Glance).

The caller's token is exchanged at Keystone (found in the caller's own catalog) for a token of the same
user and project with a full catalog, so one connection reaches every service the user can.
"""

from __future__ import annotations

import openstack
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from oslo_config import cfg

from t4o.common import errors
from t4o.common.context import RequestContext
from t4o.openstack.nova import endpoint_from_catalog


def identity_url(context: RequestContext, interface: str = "public", region: str | None = None) -> str:
    url = endpoint_from_catalog(context.service_catalog, "identity", interface, region)
    if not url:
        raise errors.BadRequest("The token's service catalog has no identity endpoint.")
    url = url.rstrip("/")
    return url if url.endswith("/v3") else url + "/v3"


def user_connection(
    context: RequestContext, interface: str = "public", region: str | None = None
) -> openstack.connection.Connection:
    if getattr(context, "trust_id", None):
        # A scheduled job: Keystone will not exchange a trust-scoped token, so authenticate through the
        # trust again (the service user impersonating the workload's owner).
        from t4o.openstack import keystone_trusts

        sess = keystone_trusts.trust_session(cfg.CONF, str(context.trust_id))
        return openstack.connection.Connection(session=sess, region_name=region, interface=interface)
    if not context.auth_token:
        raise errors.BadRequest("The request carries no token to act on the cloud with.")
    auth = v3.Token(
        auth_url=identity_url(context, interface, region),
        token=context.auth_token,
        project_id=context.project_id,
    )
    sess = ks_session.Session(auth=auth)
    return openstack.connection.Connection(session=sess, region_name=region, interface=interface)
