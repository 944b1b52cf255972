"""Backup targets from Trilio's command line against a real all-in-one API: create, list, show, update,
delete, a workload created on a target, and the errors (403 for members, 409 while in use, 400s)."""

from __future__ import annotations

from pathlib import Path

from tests.functional.cli.conftest import Cli

W = {"tool": "workloadmgr"}


def test_backup_target_commands(cli: Cli, tmp_path: Path) -> None:
    name = f"local-{cli.project}"  # targets are cloud-wide: a name of this test's own
    made = cli.json(
        "backup-target-create", name, "--type", "posix", "--url", str(tmp_path / "t"), admin=True, **W
    )
    assert (made["name"], made["type"], made["read_only"], made["is_default"]) == (
        name,
        "posix",
        False,
        False,
    )
    assert made["id"] in [t["ID"] for t in cli.json("backup-target-list", admin=True, **W)]
    assert cli.json("backup-target-show", made["id"], admin=True, **W)["url"] == str(tmp_path / "t")
    assert "HTTP 403" in cli.fails("backup-target-list", **W)
    assert "absolute path" in cli.fails(
        "backup-target-create", "x", "--type", "posix", "--url", "rel", admin=True, **W
    )
    keys = ("--access-key", "a", "--secret-key", "b")
    assert "Only an s3 backup target has credentials" in cli.fails(
        "backup-target-create", "x", "--type", "posix", "--url", "/x", *keys, admin=True, **W
    )

    vm = cli.cp.add_servers(cli.project, 1)[0]
    wl = cli.json("workload-create", "--instance", f"instance-id={vm}", "--backup-target-id", made["id"], **W)
    assert wl["backup_target_id"] == made["id"]
    assert "409" in cli.fails("backup-target-delete", made["id"], admin=True, **W)

    renamed = cli.json("backup-target-update", made["id"], "--name", name + "-2", admin=True, **W)
    assert renamed["name"] == name + "-2" and renamed["workload_count"] == 1
    cli.ok("workload-delete", wl["id"], "--database_only", "True", **W)
    cli.ok("backup-target-delete", made["id"], admin=True, **W)
    assert "not found" in cli.fails("backup-target-show", made["id"], admin=True, **W)


def test_backup_target_osc_commands(cli: Cli, tmp_path: Path) -> None:
    name = f"osc-{cli.project}"
    url = str(tmp_path / "t")
    made = cli.json(
        "workload", "backup", "target", "create", name, "--type", "posix", "--url", url, admin=True
    )
    assert made["url"] == url and made["has_credentials"] is False
    listed = cli.json("workload", "backup", "target", "list", admin=True)
    assert {"ID": made["id"], "Name": name, "Type": "posix"}.items() <= next(
        t for t in listed if t["ID"] == made["id"]
    ).items()
    shown = cli.json("workload", "backup", "target", "show", made["id"], admin=True)
    assert shown["name"] == name
    changed = cli.json("workload", "backup", "target", "set", made["id"], "--url", url + "2", admin=True)
    assert changed["url"] == url + "2"  # no workload uses it: its url may change
    assert "HTTP 403" in cli.fails("workload", "backup", "target", "delete", made["id"])
    cli.ok("workload", "backup", "target", "delete", made["id"], admin=True)
    assert made["id"] not in [t["ID"] for t in cli.json("workload", "backup", "target", "list", admin=True)]
