"""Nova calls with the caller's token (openstacksdk over a keystoneauth session)."""

from __future__ import annotations

from typing import Any

import openstack
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
from openstack import exceptions as sdk_exc

from t4o.common import errors
from t4o.common.context import RequestContext
from t4o.openstack.cloud import Cloud, Server


def endpoint_from_catalog(
    catalog: list[dict[str, Any]], service_type: str, interface: str, region: str | None
) -> str | None:
    """The URL of a service in a Keystone catalog: v3 entries (interface + url) or the v2 form
    (publicURL, internalURL, adminURL) that keystonemiddleware puts in X-Service-Catalog."""
    for service in catalog:
        if service.get("type") != service_type:
            continue
        for ep in service.get("endpoints", []):
            if region is not None and ep.get("region") not in (region, None):
                continue
            if ep.get("interface") == interface and ep.get("url"):
                return ep["url"]
            if ep.get(f"{interface}URL"):
                return ep[f"{interface}URL"]
    return None


class NovaCloud(Cloud):
    def __init__(self, interface: str, region: str | None) -> None:
        self.interface = interface
        self.region = region

    def connection(self, context: RequestContext) -> openstack.connection.Connection:
        url = endpoint_from_catalog(context.service_catalog, "compute", self.interface, self.region)
        if not url or not context.auth_token:
            raise errors.BadRequest("The token's service catalog has no compute endpoint to check instances.")
        sess = ks_session.Session(auth=token_endpoint.Token(url, context.auth_token))
        # The newest microversion both sides speak: servers then embed their flavor's details.
        return openstack.connection.Connection(session=sess, region_name=self.region)

    def find_servers(self, context: RequestContext, server_ids: list[str]) -> dict[str, Server | None]:
        conn = self.connection(context)
        out: dict[str, Server | None] = {}
        for sid in server_ids:
            try:
                srv = conn.compute.get_server(sid)
            except sdk_exc.NotFoundException:
                out[sid] = None
                continue
            except sdk_exc.BadRequestException:
                out[sid] = None
                continue
            # An admin token sees other projects' servers by id: only the caller's own project counts.
            if srv.project_id and srv.project_id != context.project_id:
                out[sid] = None
                continue
            volumes = [v["id"] for v in srv.attached_volumes or [] if v.get("id")]
            out[sid] = Server(
                srv.id, srv.name or "", srv.project_id or "", srv.status or "", volume_ids=volumes
            )
        return out

    def server_definition(self, context: RequestContext, server_id: str) -> dict[str, Any]:
        conn = self.connection(context)
        srv = conn.compute.get_server(server_id)
        definition = srv.to_dict(computed=False)
        definition["volumes"] = [
            {"id": att.volume_id, "device": att.device} for att in conn.compute.volume_attachments(server_id)
        ]
        return definition
