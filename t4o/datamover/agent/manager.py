"""The datamover agent's RPC endpoint: starts transfers on this compute host and reports on them."""

from __future__ import annotations

from functools import partial
from typing import Any

import oslo_messaging as messaging
from oslo_config import cfg

from t4o.common.context import RequestContext
from t4o.common.log import get_logger
from t4o.datamover.agent import operations
from t4o.datamover.agent.bandwidth import Bandwidth
from t4o.datamover.agent.mounts import MountRegistry
from t4o.datamover.agent.transfers import TransferRegistry

LOG = get_logger(__name__)
KINDS = ("backup", "restore")


class DatamoverAgent:
    target = messaging.Target(version="1.0")

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.conf = conf
        self.transfers = TransferRegistry(
            conf.datamover.max_concurrent_transfers, conf.datamover.unwatched_transfer_timeout
        )
        self.mounts = MountRegistry.from_conf(conf)
        self.bandwidth = Bandwidth(conf.datamover.max_bytes_per_second)  # one cap for all transfers

    def clear_abandoned(self) -> None:
        """Remove what transfers of an earlier process of this agent left on the host's domains (see
        operations.clear_abandoned); the agent starts anyway when libvirt cannot be reached."""
        try:
            operations.clear_abandoned(self.conf.datamover.libvirt_uri, self.conf.datamover.scratch_dir)
        except Exception:
            LOG.exception("could not remove what earlier transfers left on the domains")

    def start_transfer(
        self, ctxt: RequestContext, transfer_id: str, kind: str, spec: dict[str, Any]
    ) -> dict[str, Any]:
        if kind not in KINDS:
            raise ValueError(f"unknown transfer kind {kind!r}; expected one of {', '.join(KINDS)}")
        dm = self.conf.datamover
        if kind == "backup":
            work = partial(
                operations.backup,
                spec=spec,
                uri=dm.libvirt_uri,
                max_disks=dm.max_concurrent_disks,
                scratch=dm.scratch_dir,
                volume_dirs=dm.volume_dirs,
                bandwidth=self.bandwidth,
            )
        else:
            work = partial(
                operations.restore,
                spec=spec,
                uri=dm.libvirt_uri,
                max_disks=dm.max_concurrent_disks,
                volume_dirs=dm.volume_dirs,
                bandwidth=self.bandwidth,
            )
        transfer = self.transfers.start(transfer_id, kind, lambda t: work(t))
        LOG.info("%s transfer %s of domain %s accepted", kind, transfer_id, spec.get("domain"))
        return transfer.view()

    def transfer_status(self, ctxt: RequestContext, transfer_id: str) -> dict[str, Any] | None:
        transfer = self.transfers.get(transfer_id)
        return transfer.view() if transfer is not None else None

    def cancel_transfer(self, ctxt: RequestContext, transfer_id: str) -> dict[str, Any] | None:
        transfer = self.transfers.get(transfer_id)
        if transfer is None:
            return None
        transfer.cancel()
        LOG.info("%s transfer %s: cancel asked", transfer.kind, transfer_id)
        return transfer.view()

    # -- snapshot mounts (see mounts.py) --------------------------------------------------------------

    def mount(
        self, ctxt: RequestContext, mount_id: str, server_id: str, spec: dict[str, Any]
    ) -> dict[str, Any]:
        return self.mounts.mount(mount_id, server_id, spec)

    def mount_status(self, ctxt: RequestContext, mount_id: str) -> dict[str, Any] | None:
        return self.mounts.get(mount_id)

    def dismount(self, ctxt: RequestContext, mount_id: str) -> dict[str, Any] | None:
        return self.mounts.dismount(mount_id)

    def list_mounts(self, ctxt: RequestContext) -> list[dict[str, Any]]:
        return self.mounts.live()
