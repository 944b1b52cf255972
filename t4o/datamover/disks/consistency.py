"""Guest consistency around the instant a point-in-time view is taken.

When the guest answers on the qemu-guest-agent channel, its filesystems are frozen (fsfreeze) for the
instant libvirt takes the checkpoint and starts the backup, then thawed. Otherwise the point is
crash-consistent: what a power cut would leave. The result is recorded with the snapshot.

Guest hooks (guest_hooks.py), when given, run through the same agent: the pre-freeze hook just before the
freeze (its failure means no freeze, or a failed backup), the post-thaw hook just after the thaw.
"""

from __future__ import annotations

import enum

import libvirt
from oslo_log import log as logging

from t4o.datamover.disks import guest_hooks
from t4o.datamover.disks.domain_xml import has_guest_agent_channel
from t4o.datamover.disks.guest_hooks import HookFailed, HookResult, HookSpec

LOG = logging.getLogger(__name__)
DEFAULT_AGENT_TIMEOUT = 5


class Consistency(enum.StrEnum):
    FS_FROZEN = "fs-frozen"
    CRASH = "crash-consistent"


class GuestFreeze:
    """``with GuestFreeze(dom) as g:`` freezes if it can; ``g.consistency`` says what was achieved.

    With ``hooks``, their results are in ``g.hook_results``; a pre hook that fails when the spec says
    ``on_failure: fail`` raises HookFailed from ``__enter__`` (``__exit__`` still runs the post hook).
    ``freeze=False`` runs the hooks only.
    """

    def __init__(
        self,
        dom: libvirt.virDomain,
        timeout: int = DEFAULT_AGENT_TIMEOUT,
        hooks: HookSpec | None = None,
        freeze: bool = True,
    ) -> None:
        self._dom = dom
        self._timeout = timeout
        self._hooks = hooks
        self._freeze = freeze
        self._frozen = False
        #: the guest agent can be asked: the post hook runs on exit
        self._agent = False
        self.consistency = Consistency.CRASH
        #: why the freeze was not done, for the job log
        self.reason = ""
        self.hook_results: list[HookResult] = []

    def __enter__(self) -> GuestFreeze:
        name = self._dom.name()
        if not self._dom.isActive():
            self.reason = "the domain is not running"
        elif not has_guest_agent_channel(self._dom.XMLDesc(0)):
            self.reason = "the domain has no guest agent channel"
        else:
            self._agent = True
        pre = self._run_pre_hook(name)
        if pre.fail:
            self._run_post_hook()  # a ``with`` block does not call __exit__ when __enter__ raises
            raise HookFailed(f"domain {name}: {pre.fail}")
        if not self._freeze and not self.reason:
            self.reason = "quiesce not requested"
        if self._agent and self._freeze and not self.reason:
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

    def _run_pre_hook(self, name: str) -> guest_hooks.PreHookOutcome:
        """Run the pre hook (a failed one when the agent cannot be asked); set the reason of no freeze."""
        hook = self._hooks.pre_freeze if self._hooks else None
        if self._hooks is None or hook is None:
            return guest_hooks.after_pre_hook(None, guest_hooks.ON_FAILURE_CRASH)
        if self._agent:
            result = guest_hooks.run_in_guest(
                self._dom, guest_hooks.PRE_FREEZE, hook, self._hooks.timeout, self._hooks.output_limit
            )
        else:
            result = guest_hooks.not_run(guest_hooks.PRE_FREEZE, hook, guest_hooks.ERROR, self.reason)
        self._log(result)
        outcome = guest_hooks.after_pre_hook(result, self._hooks.on_failure)
        if not outcome.freeze and self._agent:
            self.reason = outcome.reason or outcome.fail
        return outcome

    def _log(self, result: HookResult) -> None:
        self.hook_results.append(result)
        log = LOG.info if result.status == guest_hooks.OK else LOG.warning
        log("domain %s: %s", self._dom.name(), result.summary())

    def __exit__(self, *exc: object) -> None:
        if self._frozen:
            try:
                self._dom.fsThaw(None, 0)
                LOG.info("domain %s: filesystems thawed", self._dom.name())
            except libvirt.libvirtError as exc:
                # The guest agent thaws on its own after its timeout; say so loudly rather than fail.
                LOG.error("domain %s: thaw failed: %s", self._dom.name(), exc.get_error_message())
            self._frozen = False
        self._run_post_hook()

    def _run_post_hook(self) -> None:
        """After the thaw, whatever happened before (it may undo what the pre hook did); never fatal."""
        hook = self._hooks.post_thaw if self._hooks else None
        done = any(r.phase == guest_hooks.POST_THAW for r in self.hook_results)
        if self._hooks is None or hook is None or done:
            return
        if self._agent:
            result = guest_hooks.run_in_guest(
                self._dom, guest_hooks.POST_THAW, hook, self._hooks.timeout, self._hooks.output_limit
            )
        else:
            result = guest_hooks.not_run(guest_hooks.POST_THAW, hook, guest_hooks.ERROR, self.reason)
        self._log(result)
