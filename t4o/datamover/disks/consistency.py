"""Guest consistency around the instant a point-in-time view is taken.

When the guest answers on the qemu-guest-agent channel, its filesystems are frozen (fsfreeze) for the
instant libvirt takes the checkpoint and starts the backup, then thawed. Otherwise the point is
crash-consistent: what a power cut would leave. The result is recorded with the snapshot.
"""

from __future__ import annotations

import enum

import libvirt
from oslo_log import log as logging

from t4o.datamover.disks.domain_xml import has_guest_agent_channel

LOG = logging.getLogger(__name__)
DEFAULT_AGENT_TIMEOUT = 5


class Consistency(enum.StrEnum):
    FS_FROZEN = "fs-frozen"
    CRASH = "crash-consistent"


class GuestFreeze:
    """``with GuestFreeze(dom) as g:`` freezes if it can; ``g.consistency`` says what was achieved."""

    def __init__(self, dom: libvirt.virDomain, timeout: int = DEFAULT_AGENT_TIMEOUT) -> None:
        self._dom = dom
        self._timeout = timeout
        self._frozen = False
        self.consistency = Consistency.CRASH
        #: why the freeze was not done, for the job log
        self.reason = ""

    def __enter__(self) -> GuestFreeze:
        name = self._dom.name()
        if not self._dom.isActive():
            self.reason = "the domain is not running"
        elif not has_guest_agent_channel(self._dom.XMLDesc(0)):
            self.reason = "the domain has no guest agent channel"
        else:
            try:
                # Bounded wait: a guest whose agent hangs must not stall the backup.
                self._dom.agentSetResponseTimeout(self._timeout, 0)
                count = self._dom.fsFreeze(None, 0)
                self._frozen = True
                self.consistency = Consistency.FS_FROZEN
                LOG.info("domain %s: %d filesystem(s) frozen by the guest agent", name, count)
            except libvirt.libvirtError as exc:
                self.reason = f"guest agent did not freeze: {exc.get_error_message()}"
        if not self._frozen:
            LOG.info("domain %s: crash-consistent point (%s)", name, self.reason)
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._frozen:
            return
        try:
            self._dom.fsThaw(None, 0)
            LOG.info("domain %s: filesystems thawed", self._dom.name())
        except libvirt.libvirtError as exc:
            # The guest agent thaws on its own after its timeout; say so loudly rather than fail the backup.
            LOG.error("domain %s: thaw failed: %s", self._dom.name(), exc.get_error_message())
        self._frozen = False
