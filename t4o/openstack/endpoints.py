"""Which Keystone catalog endpoints T4O uses for the OpenStack services it consumes: ``[clients]
endpoint_type`` (public|internal|admin) and ``[clients] region_name``, in every service of T4O."""

from __future__ import annotations

from typing import Any

from oslo_config import cfg

from t4o.common import config


def _clients(conf: cfg.ConfigOpts | None) -> Any:
    if conf is None or conf is config.CONF:
        config.ensure_registered()
        conf = config.CONF
    return conf.clients


def interface(conf: cfg.ConfigOpts | None = None) -> str:
    """The catalog interface to use (``[clients] endpoint_type``)."""
    return str(_clients(conf).endpoint_type)


def region(conf: cfg.ConfigOpts | None = None) -> str | None:
    """The catalog region to use (``[clients] region_name``); None: any."""
    value = _clients(conf).region_name
    return str(value) if value else None


def endpoint_filter(service_type: str, conf: cfg.ConfigOpts | None = None) -> dict[str, str | None]:
    """A keystoneauth ``endpoint_filter`` for ``service_type`` with the configured interface and region."""
    return {"service_type": service_type, "interface": interface(conf), "region_name": region(conf)}
