"""Guest hooks on the workflow's side: settings read from workload and VM metadata, and what the
snapshot records and warns of (the agent's side: tests/unit/datamover/test_guest_hooks.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from t4o.workloads.flows import guest_hooks as hooks
from t4o.workloads.flows import snapshot as flow
from t4o.workloads.flows import vm_runner


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("sh -c 'echo pre > /tmp/x; cat /tmp/x'", ["sh", "-c", "echo pre > /tmp/x; cat /tmp/x"]),
        ("  /usr/local/bin/flush-db --fast  ", ["/usr/local/bin/flush-db", "--fast"]),
        ('["C:\\\\Program Files\\\\app\\\\flush.exe", "/q"]', ["C:\\Program Files\\app\\flush.exe", "/q"]),
        ("", []),
        ("   ", []),
    ],
)
def test_commands_parse_into_words(text: str, words: list[str]) -> None:
    assert hooks.parse_command(text) == words


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("sh -c 'unclosed", "No closing quotation"),
        ('["a", 1]', "not a JSON array of strings"),
        ("[]", "not a JSON array of strings"),
        ("[oops", "not a JSON array of strings"),
        ("'' arg", "the program name is empty"),
    ],
)
def test_bad_commands_say_why(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        hooks.parse_command(text)


def test_workload_metadata_is_checked_key_by_key() -> None:
    hooks.check_metadata({"t4o_pre_freeze": "fsfreeze-prep", "t4o_hook_timeout": "30", "other": "x"})
    hooks.check_metadata({"t4o_hook_failure": "FAIL", "t4o_hook_timeout": 3600})
    with pytest.raises(ValueError, match=r"metadata t4o_hook_timeout: '0' is not a whole number of seconds"):
        hooks.check_metadata({"t4o_hook_timeout": "0"})
    with pytest.raises(ValueError, match=r"metadata t4o_hook_timeout: '1.5'"):
        hooks.check_metadata({"t4o_hook_timeout": "1.5"})
    with pytest.raises(ValueError, match=r"metadata t4o_hook_failure: 'abort' is neither crash nor fail"):
        hooks.check_metadata({"t4o_hook_failure": "abort"})
    with pytest.raises(ValueError, match=r"metadata t4o_post_thaw: No closing quotation"):
        hooks.check_metadata({"t4o_post_thaw": "sh -c 'x"})


def spec_of(workload: dict[str, Any], server: dict[str, Any]) -> tuple[dict[str, Any] | None, list[str]]:
    return hooks.hook_spec(workload, server, default_timeout=60, output_limit=4096)


def test_no_hook_key_no_hooks() -> None:
    assert spec_of({}, {}) == (None, [])
    # settings alone run nothing
    assert spec_of({"t4o_hook_timeout": "5", "t4o_hook_failure": "fail"}, {}) == (None, [])


def test_the_workload_gives_hooks_and_the_vm_wins_key_by_key() -> None:
    workload = {
        "t4o_pre_freeze": "db-flush",
        "t4o_post_thaw": "db-resume",
        "t4o_hook_timeout": "30",
        "t4o_hook_failure": "fail",
    }
    spec, notes = spec_of(workload, {})
    assert notes == []
    assert spec == {
        "pre_freeze": {"command": "db-flush", "argv": ["db-flush"], "source": "workload"},
        "post_thaw": {"command": "db-resume", "argv": ["db-resume"], "source": "workload"},
        "timeout": 30,
        "on_failure": "fail",
        "output_limit": 4096,
    }
    vm = {"t4o_pre_freeze": "other --now", "t4o_hook_timeout": "5", "t4o_hook_failure": "crash"}
    spec, _ = spec_of(workload, vm)
    assert spec is not None
    assert spec["pre_freeze"] == {"command": "other --now", "argv": ["other", "--now"], "source": "vm"}
    assert spec["post_thaw"]["source"] == "workload"
    assert (spec["timeout"], spec["on_failure"]) == (5, "crash")


def test_an_empty_vm_value_turns_a_workload_hook_off() -> None:
    spec, _ = spec_of({"t4o_pre_freeze": "db-flush", "t4o_post_thaw": "db-resume"}, {"t4o_pre_freeze": ""})
    assert spec is not None and "pre_freeze" not in spec and spec["post_thaw"]["command"] == "db-resume"
    spec, _ = spec_of({"t4o_pre_freeze": "db-flush"}, {"t4o_pre_freeze": ""})
    assert spec is None


def test_wrong_vm_values_are_noted_and_passed_over() -> None:
    spec, notes = spec_of(
        {"t4o_hook_timeout": "20"},
        {"t4o_pre_freeze": "sh -c 'x", "t4o_hook_timeout": "forever", "t4o_hook_failure": "maybe"},
    )
    assert spec is not None
    # a command that does not parse goes to the agent with its error: a pre hook that cannot run
    assert spec["pre_freeze"] == {"command": "sh -c 'x", "error": "No closing quotation", "source": "vm"}
    assert (spec["timeout"], spec["on_failure"]) == (20, "crash")
    assert notes == [
        "VM metadata t4o_hook_timeout ignored: 'forever' is not a whole number of seconds from 1 to 3600",
        "VM metadata t4o_hook_failure ignored: 'maybe' is neither crash nor fail",
    ]


def result(phase: str, status: str, **fields: Any) -> dict[str, Any]:
    base = {
        "phase": phase,
        "command": "c",
        "status": status,
        "exit_code": None,
        "signal": None,
        "stdout": "",
        "stderr": "",
        "stdout_truncated": False,
        "stderr_truncated": False,
        "duration_seconds": 0.1,
        "reason": "",
    }
    return {**base, **fields}


def test_warnings_name_the_hooks_that_did_not_succeed() -> None:
    assert hooks.warnings([result("pre_freeze", "ok"), result("post_thaw", "skipped", reason="off")]) == []
    assert hooks.warnings(
        [
            result("pre_freeze", "failed", exit_code=4, stderr="no space\n"),
            result("post_thaw", "timed-out", reason="did not end within 5 s"),
        ]
    ) == [
        "pre-freeze hook failed (exit code 4: no space): the guest was not frozen (crash-consistent)",
        "post-thaw hook timed-out: did not end within 5 s",
    ]


AGENT_RESULT: dict[str, Any] = {
    "consistency": "crash-consistent",
    "consistency_reason": "pre-freeze hook failed (exit code 1: busy): the guest was not frozen",
    "checkpoint": "t4o-s1",
    "disks": [{"target": "vda", "ref": "r1", "size": 10, "read_bytes": 10, "new_bytes": 5}],
    "guest_hooks": [
        result("pre_freeze", "failed", exit_code=1, stderr="busy\n"),
        result("post_thaw", "ok", exit_code=0, stdout="resumed\n"),
    ],
}


def test_the_snapshot_records_the_hooks_and_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    recorded: list[dict[str, Any]] = []
    monkeypatch.setattr(flow.db, "snapshot_record_vm", lambda sid, rec: recorded.append(rec))
    nothing: Any = None
    run = flow.SnapshotRun(
        job=nothing, snap=SimpleNamespace(id="s1"), workload_id="w1", repo=nothing, connect=nothing,
        prev=None, prev_vms={}, last_vms={}, progress=vm_runner.VmProgress(lambda p, m: None, 1),
        workload_metadata={"t4o_pre_freeze": "flush", "t4o_post_thaw": "resume"},
    )  # fmt: skip
    spec, _ = hooks.hook_spec(run.workload_metadata, {"t4o_post_thaw": "resume --vm"}, 60, 4096)
    transfer = flow.Transfer("t1", "cmp1", "a", "b", dict(AGENT_RESULT))
    record = run._record_vm(
        SimpleNamespace(vm_id="vm1", vm_name="web"),
        {"server": {"name": "web"}, "volumes": []},
        [],
        transfer,
        "VM web (vm1)",
        hooks.record(spec, AGENT_RESULT["guest_hooks"]),
    )
    kept = record["definition"]["guest_hooks"]
    assert (kept["timeout"], kept["on_failure"]) == (60, "crash")
    assert [(r["phase"], r["status"], r["source"]) for r in kept["results"]] == [
        ("pre_freeze", "failed", "workload"),
        ("post_thaw", "ok", "vm"),
    ]
    assert kept["results"][1]["stdout"] == "resumed\n"
    assert record["definition"]["consistency"] == "crash-consistent"
    assert run.notes == [
        "VM web (vm1): pre-freeze hook failed (exit code 1: busy): "
        "the guest was not frozen (crash-consistent)"
    ]
    assert recorded == [record]
    assert hooks.record(None, []) is None
