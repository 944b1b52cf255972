"""The cloud as one user sees it: an openstacksdk connection acting as the caller, and the per-service
calls over it (Nova, Cinder, Glance, Neutron).

The caller's token is exchanged at Keystone (found in the caller's own catalog) for a token of the same
user and project with a full catalog, so one connection reaches every service the user can.
"""

from __future__ import annotations

from dataclasses import dataclass

import openstack
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from oslo_config import cfg

from t4o.common import errors
from t4o.common.context import RequestContext
from t4o.openstack import endpoints, keystone_trusts
from t4o.openstack.cinder import BlockStorage
from t4o.openstack.glance import Images
from t4o.openstack.neutron import Networking
from t4o.openstack.nova import Compute, endpoint_from_catalog


def identity_url(context: RequestContext, interface: str, region: str | None = None) -> str:
    url = endpoint_from_catalog(context.service_catalog, "identity", interface, region)
    if not url:
        where = f" in region {region}" if region else ""
        raise errors.BadRequest(f"The token's service catalog has no {interface} identity endpoint{where}.")
    url = url.rstrip("/")
    return url if url.endswith("/v3") else url + "/v3"


def user_connection(
    context: RequestContext, interface: str | None = None, region: str | None = None
) -> openstack.connection.Connection:
    """A connection acting as the context's user, on the endpoints of ``interface`` and ``region``
    (default: ``[clients] endpoint_type`` and ``region_name``)."""
    interface = interface or endpoints.interface()
    region = region or endpoints.region()
    if getattr(context, "trust_id", None):
        # A scheduled job: Keystone will not exchange a trust-scoped token, so authenticate through the
        # trust again (the service user impersonating the workload's owner).
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


@dataclass(frozen=True)
class UserCloud:
    """Every service's calls over one connection. Not shared between threads: take one per thread."""

    nova: Compute
    cinder: BlockStorage
    glance: Images
    neutron: Networking

    @classmethod
    def over(cls, conn: openstack.connection.Connection) -> UserCloud:
        return cls(Compute(conn), BlockStorage(conn), Images(conn), Networking(conn))


def user_cloud(context: RequestContext, interface: str | None = None, region: str | None = None) -> UserCloud:
    """The cloud acting as the context's user (through its trust for a scheduled job), on the endpoints
    of ``[clients]`` unless ``interface`` and ``region`` say otherwise."""
    return UserCloud.over(user_connection(context, interface, region))
