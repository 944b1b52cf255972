"""The text `workload snapshot show` makes of guest hook results, for the cases the functional test does not
reach: hooks that did not run or end, records without hook fields, a snapshot still without VMs."""

from __future__ import annotations

from typing import Any

from t4o.cli.hooks import HooksColumn, vm_lines
from t4o.client.snapshots import Snapshot


def test_a_timed_out_and_an_unrun_hook_say_why() -> None:
    why = "did not end within 2 s (it may still run in the guest)"
    timed_out: dict[str, Any] = {
        "phase": "pre_freeze",
        "command": "sleep 30",
        "status": "timed-out",
        "reason": why,
    }
    timed_out.update(duration_seconds=2.004, source="workload")
    unparsed = {"phase": "post_thaw", "command": "x 'y", "status": "error"}
    unparsed["reason"] = "invalid command: No closing quotation"
    vm: dict[str, Any] = {
        "vm_id": "v1",
        "vm_name": "",
        "consistency": "crash-consistent",
        "consistency_reason": f"pre-freeze hook timed-out: {why}",
        "timeout": 2,
        "on_failure": "fail",
        "results": [timed_out, unparsed],
    }
    lines = vm_lines(vm)
    assert lines[0] == "v1 (v1): crash-consistent (" + vm["consistency_reason"] + ")"
    assert lines[1] == "  hooks: timeout 2 s; a failed pre-freeze hook: fails the snapshot"
    assert lines[2].split() == [
        "pre-freeze",
        "timed-out",
        "-",
        "2.00",
        "s",
        "sleep",
        "30",
        "(workload",
        "metadata)",
    ]
    assert lines[3] == "    did not end within 2 s (it may still run in the guest)"
    assert lines[4].split() == ["post-thaw", "error", "-", "-", "x", "'y"]  # no duration, no source
    assert lines[5] == "    invalid command: No closing quotation"
    assert len(lines) == 6  # no output lines for empty streams


def test_vm_hooks_of_records_without_hooks() -> None:
    snap = Snapshot(
        instances=[
            {"id": "a", "name": "web", "metadata": {"consistency": "fs-frozen", "guest_hooks": None}},
            {"id": "b", "name": "old", "metadata": {}},  # recorded before hooks existed
            {"id": "c", "name": "odd", "metadata": None},
        ]
    )
    hooks = snap.vm_hooks()
    assert [(h["vm_id"], h["consistency"], h["results"]) for h in hooks] == [
        ("a", "fs-frozen", None),
        ("b", None, None),
        ("c", None, None),
    ]
    text = HooksColumn(hooks).human_readable()
    assert text.splitlines() == [
        "web (a): filesystems frozen",
        "  no guest hooks",
        "old (b): -",
        "  no guest hooks",
        "odd (c): -",
        "  no guest hooks",
    ]
    assert HooksColumn(Snapshot(status="queued").vm_hooks()).human_readable() == ""
