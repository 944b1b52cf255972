"""`workload snapshot show` shows what each VM's guest hooks did: a real all-in-one snapshot whose VM
records carry hook results as the snapshot workflow writes them (built by its own functions, stored in
the service's database: the all-in-one's stub workflows run no guest)."""

from __future__ import annotations

import json
from typing import Any

from t4o.datamover.disks.guest_hooks import HookResult
from t4o.db.models import SnapshotVM
from t4o.db.session import session_scope
from t4o.workloads.flows import guest_hooks
from tests.functional.cli.conftest import Cli

PRE = "sh -c 'echo flushed; seq 1 50 >&2'"
POST = "/usr/local/bin/resume-app"
FAILING = "sh -c 'echo cannot flush the database >&2; exit 3'"
LONG = "x" * 300


def recorded(workload: dict[str, Any], server: dict[str, Any], results: list[HookResult]) -> Any:
    spec, notes = guest_hooks.hook_spec(workload, server, default_timeout=60, output_limit=4096)
    assert notes == []
    return guest_hooks.record(spec, [r.to_dict() for r in results])


def store(cli: Cli, snapshot_id: str, vm_id: str, **definition: Any) -> None:
    with session_scope(f"sqlite:///{cli.cp.workdir}/t4o.sqlite") as s:
        vm = s.query(SnapshotVM).filter_by(snapshot_id=snapshot_id, vm_id=vm_id).one()
        vm.definition = {**vm.definition, **definition}


def test_snapshot_show_has_each_vms_hook_results(cli: Cli) -> None:
    vms = cli.cp.add_servers(cli.project, 3)
    args = ["workload", "create", "--name", "db", *[a for vm in vms for a in ("--instance", vm)]]
    wl = cli.json(*args)
    snap = cli.json("workload", "snapshot", wl["id"], "--full", "--name", "hooked", "--wait")
    assert snap["status"] == "available"

    stderr = "".join(f"{n}\n" for n in range(1, 51))
    ok = recorded(
        {"t4o_post_thaw": POST, "t4o_hook_timeout": "30"},
        {"t4o_pre_freeze": PRE},
        [
            HookResult("pre_freeze", PRE, "ok", 0, None, "flushed\n", stderr[-64:], False, True, 0.25),
            HookResult("post_thaw", POST, "failed", None, 9, LONG + "\n", "", False, False, 1.5),
        ],
    )
    store(cli, snap["id"], vms[0], consistency="fs-frozen", consistency_reason="", guest_hooks=ok)
    reason = "pre-freeze hook failed (exit code 3: cannot flush the database): the guest was not frozen"
    failed = recorded(
        {},
        {"t4o_pre_freeze": FAILING, "t4o_hook_failure": "crash"},
        [
            HookResult(
                "pre_freeze",
                FAILING,
                "failed",
                3,
                None,
                "",
                "cannot flush the database\n",
                duration_seconds=0.1,
            )
        ],
    )
    store(
        cli, snap["id"], vms[1], consistency="crash-consistent", consistency_reason=reason, guest_hooks=failed
    )
    store(cli, snap["id"], vms[2], consistency="fs-frozen", consistency_reason="", guest_hooks=None)

    # a table: one block per VM, its consistency and each hook's line with the end of its output
    table = cell(cli.ok("workload", "snapshot", "show", "hooked", "-c", "guest_hooks"))
    blocks = {block.split(" (", 1)[1].split(")", 1)[0]: block for block in _blocks(table, vms)}
    first = blocks[vms[0]].splitlines()
    assert first[0].endswith(": filesystems frozen")
    assert first[1] == "  hooks: timeout 30 s; a failed pre-freeze hook: no freeze (crash-consistent)"
    assert first[2].split() == [
        "pre-freeze",
        "ok",
        "exit",
        "0",
        "0.25",
        "s",
        *PRE.split(),
        "(VM",
        "metadata)",
    ]
    assert first[3] == "    stdout: flushed"
    # the agent kept the last 64 bytes of stderr; the CLI shows their last 3 lines
    hidden = len(stderr[-64:].splitlines()) - 3
    assert first[4] == f"    stderr ({hidden} earlier line(s) not shown; only its last bytes were recorded):"
    assert first[5:8] == ["      48", "      49", "      50"]
    assert first[8].split() == [
        "post-thaw",
        "failed",
        "signal",
        "9",
        "1.50",
        "s",
        POST,
        "(workload",
        "metadata)",
    ]
    assert first[9] == "    stdout: " + "x" * 97 + "..."
    second = blocks[vms[1]].splitlines()
    assert second[0].endswith(f": crash-consistent ({reason})")
    assert second[2].split()[:4] == ["pre-freeze", "failed", "exit", "3"]
    assert second[3] == "    stderr: cannot flush the database"
    assert blocks[vms[2]].splitlines()[1:] == ["  no guest hooks"]

    # json: the records as they are, per VM
    shown = cli.json("workload", "snapshot", "show", "hooked")
    by_vm = {vm["vm_id"]: vm for vm in shown["guest_hooks"]}
    assert by_vm[vms[0]]["results"] == ok["results"] and by_vm[vms[0]]["on_failure"] == "crash"
    assert by_vm[vms[1]]["consistency_reason"] == reason and by_vm[vms[1]]["timeout"] == 60
    assert by_vm[vms[2]]["results"] is None and by_vm[vms[2]]["consistency"] == "fs-frozen"
    assert json.dumps(shown["guest_hooks"])  # plain data

    # the legacy command shows the same text
    legacy = cli.ok("snapshot-show", snap["id"], "-c", "guest_hooks", tool="workloadmgr")
    assert cell(legacy) == table


def cell(table: str) -> str:
    """The value cell of a one-field table, its lines as the CLI wrote them (the table's padding off)."""
    rows = [line.split("|") for line in table.splitlines() if line.startswith("|")]
    assert [c.strip() for c in rows[0][1:3]] == ["Field", "Value"], table
    return "\n".join(row[2][1:].rstrip() for row in rows[1:])


def _blocks(text: str, vms: list[str]) -> list[str]:
    """The text split at each VM's heading line (it names the VM id)."""
    blocks: list[str] = []
    for line in text.rstrip("\n").splitlines():
        if not line.startswith(" ") and any(f"({vm})" in line for vm in vms):
            blocks.append(line)
        else:
            blocks[-1] += "\n" + line
    assert len(blocks) == len(vms), text
    return blocks
