"""A VM's guest hooks as its snapshot recorded them (``instances[].metadata.guest_hooks``), and the
consistency the VM's point reached, for the snapshot's page."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

PRE_FREEZE = "pre_freeze"
PHASE_TEXT = {PRE_FREEZE: _("Pre-freeze"), "post_thaw": _("Post-thaw")}
# The agent's statuses: ok, failed (non-zero exit or a signal), timed-out, error (did not run), skipped.
STATUS_TEXT = {
    "ok": _("Succeeded"),
    "failed": _("Failed"),
    "timed-out": _("Timed out"),
    "error": _("Could not run"),
    "skipped": _("Skipped"),
}
STATUS_LABEL = {"ok": "label-success", "skipped": "label-default"}  # any other status: label-danger
SOURCE_TEXT = {"vm": _("VM metadata"), "workload": _("workload metadata")}
ON_FAILURE_TEXT = {
    "crash": _("the VM is not frozen (a crash-consistent point)"),
    "fail": _("the snapshot fails"),
}
CONSISTENCY_TEXT = {"fs-frozen": _("Filesystems frozen"), "crash-consistent": _("Crash-consistent")}
# A shut-off VM's hooks are skipped and need no freeze: neither is a failure.
FINE = ("ok", "skipped")


def _exit_text(result: dict[str, Any]) -> str:
    if result.get("signal") is not None:
        return str(_("signal %s")) % result["signal"]
    return "-" if result.get("exit_code") is None else str(result["exit_code"])


def _duration_text(seconds: Any) -> str:
    try:
        return f"{float(seconds):.1f} s"
    except (TypeError, ValueError):
        return "-"


def _outputs(result: dict[str, Any]) -> list[dict[str, str]]:
    """stdout and stderr when not empty, each with a label saying whether only its end was kept."""
    found = []
    for stream in ("stdout", "stderr"):
        text = result.get(stream)
        if not text:
            continue
        label = stream
        if result.get(f"{stream}_truncated"):
            label = str(_("%s (its last bytes only)")) % stream
        found.append({"stream": stream, "label": label, "text": str(text)})
    return found


def _result_row(result: dict[str, Any]) -> dict[str, Any]:
    status = str(result.get("status") or "")
    phase = str(result.get("phase") or "")
    return {
        "phase": str(PHASE_TEXT.get(phase, phase or "-")),
        "command": str(result.get("command") or ""),
        "source": str(SOURCE_TEXT.get(result.get("source") or "", result.get("source") or "-")),
        "status": str(STATUS_TEXT.get(status, status or "-")),
        "status_class": STATUS_LABEL.get(status, "label-danger"),
        "reason": str(result.get("reason") or ""),
        "exit": _exit_text(result),
        "duration": _duration_text(result.get("duration_seconds")),
        "outputs": _outputs(result),
    }


def vm_hooks(vm: dict[str, Any]) -> dict[str, Any] | None:
    """What a VM's guest hooks did, or None when the snapshot ran none for it (``guest_hooks`` null)."""
    metadata = vm.get("metadata")
    definition: dict[str, Any] = metadata if isinstance(metadata, dict) else {}
    hooks = definition.get("guest_hooks")
    if not isinstance(hooks, dict):
        return None
    results = [r for r in hooks.get("results") or [] if isinstance(r, dict)]
    pre_failed = any(r.get("phase") == PRE_FREEZE and r.get("status") not in FINE for r in results)
    raw_consistency = definition.get("consistency") or "-"
    consistency = str(CONSISTENCY_TEXT.get(raw_consistency, raw_consistency))
    on_failure = hooks.get("on_failure") or "crash"
    warning = ""
    if pre_failed:
        # The record's reason says what failed and that the guest was not frozen.
        reason = definition.get("consistency_reason") or str(_("the point is %s")) % consistency.lower()
        warning = str(_("The pre-freeze hook did not succeed: %s")) % reason
    return {
        "timeout": hooks.get("timeout"),
        "on_failure": str(ON_FAILURE_TEXT.get(on_failure, on_failure)),
        "consistency": consistency,
        "warning": warning,
        "results": [_result_row(r) for r in results],
    }
