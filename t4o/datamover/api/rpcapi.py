"""RPC client of the datamover agents: every call names the compute host whose agent answers."""

from __future__ import annotations

from typing import Any

import oslo_messaging as messaging
from oslo_config import cfg

from t4o.common import errors, rpc
from t4o.common.context import RequestContext


class AgentUnreachable(errors.T4OError):
    http_status = 503


class AgentAPI:
    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.conf = conf

    def _call(self, ctx: RequestContext, host: str, method: str, **kwargs: Any) -> Any:
        client = rpc.get_client(self.conf, self.conf.datamover.topic, server=host)
        cctxt = client.prepare(server=host, timeout=self.conf.datamover.rpc_timeout)
        try:
            return cctxt.call(ctx, method, **kwargs)
        except messaging.MessagingTimeout:
            raise AgentUnreachable(
                f"The datamover agent on host {host} did not answer within "
                f"{self.conf.datamover.rpc_timeout} s (is it running?)."
            ) from None
        except messaging.RemoteError as exc:
            raise errors.BadRequest(f"The datamover agent on host {host} refused: {exc.value}") from None

    def start_transfer(
        self, ctx: RequestContext, host: str, transfer_id: str, kind: str, spec: dict[str, Any]
    ) -> dict[str, Any]:
        return self._call(ctx, host, "start_transfer", transfer_id=transfer_id, kind=kind, spec=spec)

    def transfer_status(self, ctx: RequestContext, host: str, transfer_id: str) -> dict[str, Any] | None:
        return self._call(ctx, host, "transfer_status", transfer_id=transfer_id)

    def cancel_transfer(self, ctx: RequestContext, host: str, transfer_id: str) -> dict[str, Any] | None:
        return self._call(ctx, host, "cancel_transfer", transfer_id=transfer_id)

    def mount(
        self, ctx: RequestContext, host: str, mount_id: str, server_id: str, spec: dict[str, Any]
    ) -> dict[str, Any]:
        return self._call(ctx, host, "mount", mount_id=mount_id, server_id=server_id, spec=spec)

    def mount_status(self, ctx: RequestContext, host: str, mount_id: str) -> dict[str, Any] | None:
        return self._call(ctx, host, "mount_status", mount_id=mount_id)

    def dismount(self, ctx: RequestContext, host: str, mount_id: str) -> dict[str, Any] | None:
        return self._call(ctx, host, "dismount", mount_id=mount_id)

    def list_mounts(self, ctx: RequestContext, host: str) -> list[dict[str, Any]]:
        return self._call(ctx, host, "list_mounts")
