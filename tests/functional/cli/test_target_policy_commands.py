"""A workload policy's backup target from the command line (``--field backup_target_id=...``), against a
real all-in-one API: the workload created with ``--policy`` lands on it."""

from __future__ import annotations

from pathlib import Path

from tests.functional.cli.conftest import Cli


def test_policy_backup_target_field(cli: Cli, tmp_path: Path) -> None:
    name = f"policy-target-{cli.project}"  # targets and policies are cloud-wide: names of this test's own
    target = cli.json(
        "workload", "backup", "target", "create", name, "--type", "posix", "--url", str(tmp_path / "t"),
        admin=True,
    )  # fmt: skip
    fields = ["--field", "interval=12 hr", "--field", f"backup_target_id={target['id']}"]
    pol = cli.json("workload", "policy", "create", name, *fields, admin=True)
    assert pol["field_values"] == {"interval": "12 hr", "backup_target_id": target["id"]}
    assert "does not exist" in cli.fails(
        "workload", "policy", "create", name + "-x", "--field", "backup_target_id=nope", admin=True
    )
    cli.ok("workload", "policy", "assign", pol["id"], "--project", cli.project, admin=True)

    vm = cli.cp.add_servers(cli.project, 1)[0]
    wl = cli.json("workload", "create", "--instance", vm, "--policy", name, "--jobschedule", "enabled=false")
    assert wl["backup_target_id"] == target["id"] and wl["jobschedule"]["interval"] == "12 hr"

    # `policy set` replaces the schedule fields and keeps the target; the target cannot be deleted.
    changed = cli.json("workload", "policy", "set", name, "--field", "interval=6 hr", admin=True)
    assert changed["field_values"] == {"interval": "6 hr", "backup_target_id": target["id"]}
    assert "HTTP 409" in cli.fails("workload", "backup", "target", "delete", target["id"], admin=True)

    cli.ok("workload", "delete", wl["id"], "--database-only")
    cli.ok("workload", "policy", "delete", pol["id"], admin=True)
    cli.ok("workload", "backup", "target", "delete", target["id"], admin=True)
