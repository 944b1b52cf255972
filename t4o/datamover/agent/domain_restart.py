"""A new server's domain powered off for its restore and started again by the agent, unseen by Nova.

Nova handles a domain's STOPPED event 15 s late and drops it when the domain starts again first (so that
a reboot is not taken for a shutdown). A restore that powers a freshly built server's domain off, writes
its disks and starts it again within that delay spares the server Nova's stop and start (several seconds
each, and two entries in its action log); Nova keeps it ACTIVE throughout. The volumes the restore
attaches meanwhile are attached by Nova to the shut-off domain's definition, so the domain waits for
them before it starts. Past ``window`` seconds the domain is left off: Nova then records the server
stopped, and the restore starts it through Nova as it would have without this.
"""

from __future__ import annotations

import time
from typing import Any

import libvirt

from t4o.common.log import get_logger
from t4o.datamover.agent.transfers import Transfer
from t4o.datamover.disks.domain_xml import disk_serials
from t4o.datamover.disks.errors import DomainStateError

LOG = get_logger(__name__)

#: seconds after the power-off by which the domain must be started again: Nova acts on the STOPPED
#: event after 15 s, and the start itself takes a moment
DEFAULT_WINDOW = 12.0


def waiting_volumes(dom: libvirt.virDomain, volume_ids: list[str]) -> list[str]:
    """The volumes of ``volume_ids`` the domain's definition does not hold yet."""
    found = disk_serials(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    return [v for v in volume_ids if v not in found]


def start_again(
    transfer: Transfer, dom: libvirt.virDomain, volume_ids: list[str], off_at: float, window: float
) -> dict[str, Any]:
    """Once ``volume_ids`` are attached, start the domain if that is still within ``window`` seconds of
    ``off_at`` (its power-off); what happened, for the transfer's result."""
    deadline = off_at + window
    waiting = waiting_volumes(dom, volume_ids)
    if waiting:
        transfer.say(f"Waiting for {len(waiting)} volume(s) to be attached")
    while waiting and time.monotonic() < deadline:
        time.sleep(0.1)
        transfer.check()  # the restore cancels the transfer when an attach fails
        waiting = waiting_volumes(dom, volume_ids)
    off_for = time.monotonic() - off_at
    if waiting or off_for >= window:
        why = f"volume(s) {', '.join(waiting)} not attached" if waiting else "its disks took too long"
        LOG.info(
            "domain %s left off after %.1f s (%s): Nova records it stopped and the restore starts it",
            dom.name(), off_for, why,
        )  # fmt: skip
        return {"restarted": False, "off_seconds": round(off_for, 3), "reason": why}
    if dom.isActive():  # started by someone else meanwhile: its disks were written while it was off
        raise DomainStateError(f"domain {dom.name()} was started by another party during its restore")
    transfer.say("Starting the domain")
    dom.create()
    off_for = time.monotonic() - off_at
    LOG.info("domain %s started again after %.1f s off for its restore", dom.name(), off_for)
    return {"restarted": True, "off_seconds": round(off_for, 3)}
