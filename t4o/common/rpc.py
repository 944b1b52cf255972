"""RPC over oslo.messaging: one transport per process, context serialisation, clients and servers."""

from __future__ import annotations

from typing import Any

import oslo_messaging as messaging
from oslo_config import cfg

from t4o.common.context import RequestContext

_TRANSPORT: messaging.Transport | None = None


class ContextSerializer(messaging.Serializer):
    """Carries the caller's RequestContext with every message; payloads are plain JSON values."""

    def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return entity

    def deserialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return entity

    def serialize_context(self, ctxt: RequestContext) -> dict[str, Any]:
        return ctxt.to_dict()

    def deserialize_context(self, ctxt: dict[str, Any]) -> RequestContext:
        return RequestContext.from_dict(ctxt)


def get_transport(conf: cfg.ConfigOpts) -> messaging.Transport:
    global _TRANSPORT
    if _TRANSPORT is None:
        _TRANSPORT = messaging.get_rpc_transport(conf)
    return _TRANSPORT


def cleanup() -> None:
    global _TRANSPORT
    if _TRANSPORT is not None:
        _TRANSPORT.cleanup()
    _TRANSPORT = None


def get_client(conf: cfg.ConfigOpts, topic: str, server: str | None = None) -> messaging.RPCClient:
    target = messaging.Target(topic=topic, server=server, version="1.0")
    # A bounded number of reconnection attempts: with the broker down, a request fails (and its job
    # records why) instead of hanging for ever.
    return messaging.get_rpc_client(get_transport(conf), target, serializer=ContextSerializer(), retry=3)


def get_server(conf: cfg.ConfigOpts, topic: str, host: str, endpoints: list[Any]) -> messaging.RPCServer:
    target = messaging.Target(topic=topic, server=host)
    return messaging.get_rpc_server(
        get_transport(conf),
        target,
        endpoints,
        executor="threading",
        serializer=ContextSerializer(),
        access_policy=messaging.DefaultRPCAccessPolicy,
    )
