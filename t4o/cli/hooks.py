"""The ``guest_hooks`` field of ``workload snapshot show``: per VM, the consistency its point reached and
what each guest hook did (phase, status, exit, duration, command, the end of its output).

The table (the default output) shows it as text; ``-f json|yaml|value`` as the structured list of
``Snapshot.vm_hooks()``."""

from __future__ import annotations

from typing import Any

from cliff.columns import FormattableColumn

PHASES = {"pre_freeze": "pre-freeze", "post_thaw": "post-thaw"}
CONSISTENCY = {"fs-frozen": "filesystems frozen", "crash-consistent": "crash-consistent"}
SOURCES = {"vm": "VM metadata", "workload": "workload metadata"}
#: the end of each output stream that is shown (the record keeps more: -f json shows all of it)
OUTPUT_LINES = 3
LINE_CHARS = 100


def _exit(result: dict[str, Any]) -> str:
    if result.get("signal") is not None:
        return f"signal {result['signal']}"
    return "-" if result.get("exit_code") is None else f"exit {result['exit_code']}"


def _duration(result: dict[str, Any]) -> str:
    try:
        return f"{float(result.get('duration_seconds')):.2f} s"  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "-"


def _output(stream: str, text: Any, cut_by_agent: bool) -> list[str]:
    """The last lines of one output stream, each cut to LINE_CHARS, saying what was left out."""
    lines = str(text or "").rstrip("\n").splitlines()
    if not lines:
        return []
    shown = [
        line if len(line) <= LINE_CHARS else line[: LINE_CHARS - 3] + "..." for line in lines[-OUTPUT_LINES:]
    ]
    notes = []
    if len(lines) > len(shown):
        notes.append(f"{len(lines) - len(shown)} earlier line(s) not shown")
    if cut_by_agent:
        notes.append("only its last bytes were recorded")
    if len(shown) == 1 and not notes:
        return [f"    {stream}: {shown[0]}"]
    head = f"    {stream}" + (f" ({'; '.join(notes)})" if notes else "") + ":"
    return [head, *(f"      {line}" for line in shown)]


def _result_lines(result: dict[str, Any]) -> list[str]:
    phase = str(result.get("phase") or "-")
    source = SOURCES.get(str(result.get("source") or ""))
    command = str(result.get("command") or "")
    line = f"  {PHASES.get(phase, phase):<10}  {result.get('status') or '-'!s:<9}  {_exit(result):<8}  "
    line += f"{_duration(result):<8}  {command}" + (f"  ({source})" if source else "")
    lines = [line.rstrip()]
    if result.get("reason"):
        lines.append(f"    {result['reason']}")
    for stream in ("stdout", "stderr"):
        lines += _output(stream, result.get(stream), bool(result.get(f"{stream}_truncated")))
    return lines


def vm_lines(vm: dict[str, Any]) -> list[str]:
    """One VM: a heading with its consistency (and why it is not frozen), then one line per hook."""
    consistency = str(vm.get("consistency") or "-")
    name = vm.get("vm_name") or vm.get("vm_id")
    head = f"{name} ({vm.get('vm_id')}): {CONSISTENCY.get(consistency, consistency)}"
    if vm.get("consistency_reason") and consistency != "fs-frozen":
        head += f" ({vm['consistency_reason']})"
    results = vm.get("results")
    if results is None:
        return [head, "  no guest hooks"]
    settings = f"  hooks: timeout {vm.get('timeout')} s; a failed pre-freeze hook: "
    settings += "fails the snapshot" if vm.get("on_failure") == "fail" else "no freeze (crash-consistent)"
    lines = [head, settings]
    for result in results:
        lines += _result_lines(result)
    return lines


class HooksColumn(FormattableColumn):
    """Text in a table, the structured list for the machine formats (json, yaml, value, shell)."""

    def human_readable(self) -> str:
        return "\n".join(line for vm in self._value for line in vm_lines(vm))

    def machine_readable(self) -> list[dict[str, Any]]:
        return list(self._value)
