"""Guest hooks as the workload and its VMs ask for them, read from metadata.

Keys, in the workload's metadata or in a VM's Nova server metadata (a key the VM sets wins, even empty):

- ``t4o_pre_freeze``: command run in the guest before its filesystems are frozen;
- ``t4o_post_thaw``: command run in the guest after they are thawed;
- ``t4o_hook_timeout``: seconds each hook may run (1 to 3600; default ``[workflows] guest_hook_timeout``);
- ``t4o_hook_failure``: ``crash`` (default: a failed pre hook means no freeze, a crash-consistent point)
  or ``fail`` (the snapshot fails).

A command is words split as a POSIX shell would (quotes, backslashes; no expansion, no pipes: run
``sh -c '...'`` for those), or a JSON array of strings for exact words (e.g. Windows paths). An empty
value means no hook. The agent runs them (t4o.datamover.disks.guest_hooks); the results are recorded in
the VM's part of the snapshot, ``definition["guest_hooks"]``.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
from collections.abc import Mapping
from typing import Any

from t4o.datamover.disks import guest_hooks as agent_hooks

PRE_FREEZE_KEY, POST_THAW_KEY = "t4o_pre_freeze", "t4o_post_thaw"
TIMEOUT_KEY, FAILURE_KEY = "t4o_hook_timeout", "t4o_hook_failure"
COMMAND_KEYS = {agent_hooks.PRE_FREEZE: PRE_FREEZE_KEY, agent_hooks.POST_THAW: POST_THAW_KEY}
FAILURE_VALUES = (agent_hooks.ON_FAILURE_CRASH, agent_hooks.ON_FAILURE_FAIL)
MAX_TIMEOUT = 3600
_RESULT_FIELDS = {f.name for f in dataclasses.fields(agent_hooks.HookResult)}


def parse_command(text: str) -> list[str]:
    """The command's words; ValueError says what is wrong with it. Empty: no hook."""
    text = text.strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            words = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"not a JSON array of strings ({exc})") from None
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words) or not words:
            raise ValueError("not a JSON array of strings")
    else:
        try:
            words = shlex.split(text)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
    if not words[0]:
        raise ValueError("the program name is empty")
    return list(words)


def parse_timeout(value: Any) -> int:
    try:
        seconds = int(str(value).strip())
    except ValueError:
        seconds = 0
    if not 1 <= seconds <= MAX_TIMEOUT:
        raise ValueError(f"{value!r} is not a whole number of seconds from 1 to {MAX_TIMEOUT}")
    return seconds


def parse_failure(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in FAILURE_VALUES:
        raise ValueError(f"{value!r} is neither {' nor '.join(FAILURE_VALUES)}")
    return text


def check_metadata(metadata: Mapping[str, Any]) -> None:
    """ValueError naming the first hook key of ``metadata`` whose value is wrong (for a 400)."""
    checks = {
        PRE_FREEZE_KEY: parse_command,
        POST_THAW_KEY: parse_command,
        TIMEOUT_KEY: parse_timeout,
        FAILURE_KEY: parse_failure,
    }
    for key, check in checks.items():
        if key in metadata:
            try:
                check(metadata[key])
            except ValueError as exc:
                raise ValueError(f"metadata {key}: {exc}") from None


def _setting(
    key: str, parse: Any, workload: Mapping[str, Any], server: Mapping[str, Any], notes: list[str]
) -> Any:
    """The VM's value, else the workload's, else None; a wrong one is noted and passed over."""
    for where, metadata in (("VM", server), ("workload", workload)):
        if key in metadata:
            try:
                return parse(metadata[key])
            except ValueError as exc:
                notes.append(f"{where} metadata {key} ignored: {exc}")
    return None


def hook_spec(
    workload: Mapping[str, Any], server: Mapping[str, Any], default_timeout: int, output_limit: int
) -> tuple[dict[str, Any] | None, list[str]]:
    """The backup spec's ``guest_hooks`` for one VM (None: no hook) and notes on ignored values.

    A command that does not parse is still sent, with its error: the agent reports it as a hook that
    could not run, which for a pre hook means what any failed pre hook means.
    """
    notes: list[str] = []
    spec: dict[str, Any] = {}
    for phase, key in COMMAND_KEYS.items():
        where, metadata = ("vm", server) if key in server else ("workload", workload)
        text = str(metadata.get(key) or "")
        try:
            words = parse_command(text)
        except ValueError as exc:
            spec[phase] = {"command": text, "error": str(exc), "source": where}
            continue
        if words:
            spec[phase] = {"command": text, "argv": words, "source": where}
    if not spec:
        return None, notes
    timeout = _setting(TIMEOUT_KEY, parse_timeout, workload, server, notes)
    failure = _setting(FAILURE_KEY, parse_failure, workload, server, notes)
    spec.update(
        timeout=timeout or default_timeout,
        on_failure=failure or agent_hooks.ON_FAILURE_CRASH,
        output_limit=output_limit,
    )
    return spec, notes


def record(spec: dict[str, Any] | None, results: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What the snapshot keeps of the VM's hooks: the settings used and each hook's result (with the
    metadata it came from, ``vm`` or ``workload``)."""
    if spec is None:
        return None
    return {
        "timeout": spec["timeout"],
        "on_failure": spec["on_failure"],
        "results": [{**r, "source": (spec.get(r["phase"]) or {}).get("source")} for r in results],
    }


def warnings(results: list[dict[str, Any]]) -> list[str]:
    """What the snapshot's warning says of the hooks: any that did not succeed (a skipped one, of a
    shut-off VM, needed no freeze)."""
    out = []
    for raw in results:
        result = agent_hooks.HookResult(**{k: v for k, v in raw.items() if k in _RESULT_FIELDS})
        if result.status in (agent_hooks.OK, agent_hooks.SKIPPED):
            continue
        text = result.summary()
        if result.phase == agent_hooks.PRE_FREEZE:
            text += ": the guest was not frozen (crash-consistent)"
        out.append(text)
    return out
