"""Commands run inside the guest around its freeze: a pre-freeze hook and a post-thaw hook.

They go through qemu-guest-agent's ``guest-exec`` and ``guest-exec-status`` (libvirt has no API of its
own for them: ``qemuAgentCommand``, which libvirt logs as a "custom-ga-command" taint of the domain).
The workflow sends what to run in the backup spec (``"guest_hooks"``, see ``HookSpec.from_spec``); the
agent returns one ``HookResult`` per hook with the transfer's result.

A pre hook that fails, times out or cannot run at all leaves the guest unfrozen (a crash-consistent
point), or fails the backup when the spec says ``on_failure: fail``. The post hook runs right after the
thaw, whatever happened before; its failure is reported, never fatal: the point is taken by then.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import libvirt
import libvirt_qemu

from t4o.datamover.disks.errors import DiskError

PRE_FREEZE, POST_THAW = "pre_freeze", "post_thaw"
PHASE_LABEL = {PRE_FREEZE: "pre-freeze hook", POST_THAW: "post-thaw hook"}
ON_FAILURE_CRASH, ON_FAILURE_FAIL = "crash", "fail"

OK, FAILED, TIMED_OUT, ERROR, SKIPPED = "ok", "failed", "timed-out", "error", "skipped"

DEFAULT_TIMEOUT = 60
DEFAULT_OUTPUT_LIMIT = 4096
#: seconds one agent call (start, or one status poll) may take; the hook's own timeout bounds the whole
AGENT_CALL_TIMEOUT = 5
#: status polls start fast (most hooks take well under a second) and slow down to this
MAX_POLL_INTERVAL = 0.5


class HookFailed(DiskError):
    """The pre-freeze hook failed and the spec asks to fail the backup rather than go on unfrozen."""


@dataclass(frozen=True)
class Hook:
    """One command: ``argv`` to run, or ``error`` when the workflow could not parse ``command``."""

    command: str
    argv: tuple[str, ...] = ()
    error: str = ""

    @classmethod
    def from_spec(cls, raw: dict[str, Any] | None) -> Hook | None:
        if not raw:
            return None
        argv = tuple(str(a) for a in raw.get("argv") or ())
        error = str(raw.get("error") or "")
        if not argv and not error:
            error = "empty command"
        return cls(str(raw.get("command") or " ".join(argv)), argv, error)


@dataclass(frozen=True)
class HookSpec:
    pre_freeze: Hook | None = None
    post_thaw: Hook | None = None
    timeout: int = DEFAULT_TIMEOUT
    on_failure: str = ON_FAILURE_CRASH
    output_limit: int = DEFAULT_OUTPUT_LIMIT

    @classmethod
    def from_spec(cls, raw: dict[str, Any] | None) -> HookSpec | None:
        """The backup spec's ``guest_hooks``: ``{"pre_freeze": {"command", "argv": [...]} | null,
        "post_thaw": ..., "timeout": s, "on_failure": "crash" | "fail", "output_limit": bytes}``."""
        if not raw:
            return None
        spec = cls(
            Hook.from_spec(raw.get(PRE_FREEZE)),
            Hook.from_spec(raw.get(POST_THAW)),
            int(raw.get("timeout") or DEFAULT_TIMEOUT),
            ON_FAILURE_FAIL if raw.get("on_failure") == ON_FAILURE_FAIL else ON_FAILURE_CRASH,
            int(raw.get("output_limit") or DEFAULT_OUTPUT_LIMIT),
        )
        return spec if spec.pre_freeze or spec.post_thaw else None

    def hooks(self) -> list[tuple[str, Hook]]:
        return [(p, h) for p, h in ((PRE_FREEZE, self.pre_freeze), (POST_THAW, self.post_thaw)) if h]


@dataclass
class HookResult:
    """What one hook did, as recorded with the snapshot (output cut to the spec's ``output_limit``)."""

    phase: str
    command: str
    status: str
    exit_code: int | None = None
    signal: int | None = None
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    duration_seconds: float = 0.0
    #: why it did not run or did not end (error, timed-out, skipped)
    reason: str = ""

    def summary(self) -> str:
        """``pre-freeze hook failed (exit code 3: <stderr's last line>)`` and the like, for messages."""
        label = PHASE_LABEL.get(self.phase, self.phase)
        if self.status == OK:
            return f"{label} ran (exit code 0)"
        if self.status == FAILED:
            how = f"exit code {self.exit_code}" if self.signal is None else f"killed by signal {self.signal}"
            # the last line of stderr (else stdout) usually says why
            last = self.stderr.strip().splitlines()[-1:] or self.stdout.strip().splitlines()[-1:]
            if last:
                how += f": {last[0][:200]}"
            return f"{label} failed ({how})"
        return f"{label} {self.status}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def not_run(phase: str, hook: Hook, status: str, reason: str) -> HookResult:
    return HookResult(phase, hook.command, status, reason=reason)


@dataclass(frozen=True)
class PreHookOutcome:
    """What the pre hook's result means for the freeze and for the backup."""

    freeze: bool
    #: the backup's error message when it must fail, else ""
    fail: str = ""
    #: why the guest is not frozen (the point's consistency reason), else ""
    reason: str = ""


def after_pre_hook(result: HookResult | None, on_failure: str) -> PreHookOutcome:
    """No pre hook, or one that succeeded: freeze. Otherwise no freeze, or a failed backup if asked."""
    if result is None or result.status == OK:
        return PreHookOutcome(freeze=True)
    if on_failure == ON_FAILURE_FAIL:
        return PreHookOutcome(
            freeze=False, fail=f"{result.summary()}; the snapshot fails as asked (t4o_hook_failure: fail)"
        )
    return PreHookOutcome(freeze=False, reason=f"{result.summary()}: the guest was not frozen")


def _cut(data: str | None, limit: int) -> tuple[str, bool]:
    """Base64 output of guest-exec-status, decoded and cut to ``limit`` bytes (its last bytes: a
    failing command says why at the end)."""
    if not data:
        return "", False
    try:
        raw = base64.b64decode(data)
    except (binascii.Error, ValueError):
        return "", True  # unreadable: recorded as cut to nothing
    if len(raw) <= limit:
        return raw.decode("utf-8", "replace"), False
    return raw[-limit:].decode("utf-8", "replace"), True


AgentCall = Callable[[libvirt.virDomain, str, int], str]


def _qemu_agent_command(dom: libvirt.virDomain, command: str, timeout: int) -> str:
    return str(libvirt_qemu.qemuAgentCommand(dom, command, timeout, 0))


def run_in_guest(
    dom: libvirt.virDomain,
    phase: str,
    hook: Hook,
    timeout: float,
    output_limit: int,
    agent: AgentCall = _qemu_agent_command,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> HookResult:
    """Run ``hook`` in the guest and wait up to ``timeout`` seconds for it to end.

    A hook that does not end in time keeps running in the guest (qemu-guest-agent cannot stop it): the
    result says so, and the freeze does not wait for it.
    """
    if hook.error:
        return not_run(phase, hook, ERROR, f"invalid command: {hook.error}")
    started = clock()
    deadline = started + timeout

    def call(execute: str, arguments: dict[str, Any]) -> dict[str, Any]:
        budget = max(1, min(AGENT_CALL_TIMEOUT, int(deadline - clock()) + 1))
        answer = json.loads(agent(dom, json.dumps({"execute": execute, "arguments": arguments}), budget))
        ret = answer.get("return")
        if not isinstance(ret, dict):
            raise ValueError(f"unexpected answer to {execute}: {answer!r:.200}")
        return ret

    def result(status: str, **fields: Any) -> HookResult:
        return HookResult(phase, hook.command, status, duration_seconds=round(clock() - started, 3), **fields)

    try:
        started_exec = call(
            "guest-exec", {"path": hook.argv[0], "arg": list(hook.argv[1:]), "capture-output": True}
        )
        pid = int(started_exec["pid"])
        interval = 0.02
        while True:
            status = call("guest-exec-status", {"pid": pid})
            if status.get("exited"):
                break
            if clock() >= deadline:
                return result(
                    TIMED_OUT, reason=f"did not end within {timeout:g} s (it may still run in the guest)"
                )
            sleep(min(interval, max(0.0, deadline - clock())))
            interval = min(interval * 2, MAX_POLL_INTERVAL)
    except libvirt.libvirtError as exc:
        return result(ERROR, reason=f"guest agent: {exc.get_error_message()}")
    except (ValueError, KeyError, TypeError) as exc:
        return result(ERROR, reason=f"guest agent: {exc}")
    out, out_cut = _cut(status.get("out-data"), output_limit)
    err, err_cut = _cut(status.get("err-data"), output_limit)
    code = status.get("exitcode")
    signal = status.get("signal")
    ok = code == 0 and signal is None
    return result(
        OK if ok else FAILED,
        exit_code=code,
        signal=signal,
        stdout=out,
        stderr=err,
        stdout_truncated=out_cut or bool(status.get("out-truncated")),
        stderr_truncated=err_cut or bool(status.get("err-truncated")),
    )
