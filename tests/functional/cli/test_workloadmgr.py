"""The standalone `workloadmgr` with Trilio's command names, against a real all-in-one API."""

from __future__ import annotations

import json
from pathlib import Path

from tests.functional.cli.conftest import Cli


def wm(cli: Cli, *args: str, admin: bool = False) -> dict:
    return cli.json(*args, tool="workloadmgr", admin=admin)


def test_trilio_workflow(cli: Cli, tmp_path: Path) -> None:
    vms = cli.cp.add_servers(cli.project, 3)
    wl = wm(
        cli,
        "workload-create",
        "--instance",
        f"instance-id={vms[0]}",
        "--instance",
        f"instance-id={vms[1]}",
        "--display-name",
        "erp",
        "--display-description",
        "ERP VMs",
        "--workload-type-id",
        "f82ce76f-17fe-438b-aa37-7a023058e50d",
        "--jobschedule",
        "fullbackup_interval=-1",
    )
    assert (
        wl["name"] == "erp"
        and wl["description"] == "ERP VMs"
        and wl["jobschedule"]["fullbackup_interval"] == -1
    )
    listed = cli.json("workload-list", tool="workloadmgr")
    assert [w["ID"] for w in listed] == [wl["id"]]
    assert wm(cli, "workload-show", "erp")["id"] == wl["id"]
    modified = wm(
        cli, "workload-modify", "erp", "--instance", f"instance-id={vms[2]}", "--display-name", "erp2"
    )
    assert modified["name"] == "erp2" and [i["id"] for i in modified["instances"]] == [vms[2]]
    assert wm(cli, "workload-unlock", "erp2")["status"] == "available"
    assert wm(cli, "workload-reset", "erp2")["status"] == "available"

    full = wm(
        cli,
        "workload-snapshot",
        "--full",
        "--display-name",
        "first",
        "erp2",
        "--wait",
        "--poll-interval",
        "0.2",
    )
    assert full["status"] == "available" and full["snapshot_type"] == "full"
    assert [s["ID"] for s in cli.json("snapshot-list", "--workload_id", wl["id"], tool="workloadmgr")] == [
        full["id"]
    ]
    assert wm(cli, "snapshot-show", full["id"])["name"] == "first"

    restore = wm(
        cli,
        "snapshot-oneclick-restore",
        "--display-name",
        "all",
        full["id"],
        "--wait",
        "--poll-interval",
        "0.2",
    )
    assert restore["restore_type"] == "oneclick" and restore["status"] == "available"
    spec = tmp_path / "sel.json"
    spec.write_text(
        json.dumps(
            {
                "openstack": {"instances": [{"id": vms[2], "include": True, "name": "again"}]},
                "restore_type": "selective",
                "type": "openstack",
                "oneclickrestore": False,
            }
        )
    )
    selective = wm(cli, "snapshot-selective-restore", "--filename", str(spec), full["id"])
    assert selective["restore_type"] == "selective"
    # One job per workload: the in-place restore may start only once the selective one has ended.
    cli.cp.wait_job("restore", selective["id"], cli.project)
    spec.write_text(json.dumps({"openstack": {"instances": [{"id": vms[2], "restore_boot_disk": True}]}}))
    inplace = wm(
        cli,
        "snapshot-inplace-restore",
        "--filename",
        str(spec),
        full["id"],
        "--wait",
        "--poll-interval",
        "0.2",
    )
    assert inplace["restore_type"] == "inplace" and inplace["status"] == "available"
    rows = cli.json("restore-list", "--snapshot_id", full["id"], tool="workloadmgr")
    assert {r["ID"] for r in rows} == {restore["id"], selective["id"], inplace["id"]}
    assert wm(cli, "restore-show", restore["id"])["name"] == "all"
    assert "HTTP 409" in cli.fails("restore-cancel", restore["id"], tool="workloadmgr")
    assert cli.ok("restore-delete", restore["id"], tool="workloadmgr") == ""

    big = wm(cli, "workload-create", *[f"--instance={vm}" for vm in cli.cp.add_servers(cli.project, 20)])
    running = wm(cli, "workload-snapshot", big["id"])
    cancelled = wm(cli, "snapshot-cancel", running["id"])
    assert cancelled["status"] in ("cancelling", "cancelled")
    assert cli.cp.wait_job("snapshot", running["id"], cli.project)["status"] == "cancelled"
    assert cli.ok("snapshot-delete", running["id"], tool="workloadmgr") == ""

    assert cli.ok("workload-delete", "--database_only", "True", "erp2", tool="workloadmgr") == ""
    assert [w["ID"] for w in cli.json("workload-list", tool="workloadmgr")] == [big["id"]]


def test_types_pause_and_resume(cli: Cli) -> None:
    types = {t["Name"]: t["ID"] for t in cli.json("workload-type-list", tool="workloadmgr")}
    assert set(types) == {"Serial", "Parallel"}
    assert wm(cli, "workload-type-show", "Serial")["id"] == types["Serial"]
    wl = wm(cli, "workload-create", "--instance", cli.cp.add_servers(cli.project, 1)[0])
    assert wm(cli, "workload-pause", wl["id"])["jobschedule"]["enabled"] is False
    assert wm(cli, "workload-resume", wl["id"])["jobschedule"]["enabled"] is True
    assert "(see `workloadmgr workload-type-list`)" in cli.fails(
        "workload-type-show", "Nope", tool="workloadmgr"
    )


def test_settings_and_scheduler(cli: Cli) -> None:
    assert wm(cli, "setting-create", "retention", "7", "--category", "policy")["value"] == "7"
    assert wm(cli, "setting-update", "retention", "--value", "9")["value"] == "9"
    assert wm(cli, "setting-show", "retention")["category"] == "policy"
    assert [r["Name"] for r in cli.json("setting-list", tool="workloadmgr")] == ["retention"]
    assert cli.ok("setting-delete", "retention", tool="workloadmgr") == ""
    assert wm(cli, "disable-global-job-scheduler", admin=True) == {"global_job_scheduler": False}
    assert wm(cli, "get-global-job-scheduler") == {"global_job_scheduler": False}
    assert wm(cli, "enable-global-job-scheduler", admin=True) == {"global_job_scheduler": True}


def test_errors_are_one_line(cli: Cli) -> None:
    assert cli.fails("workload-show", "nothing", tool="workloadmgr") == (
        "No workload with name or ID 'nothing' (see `workloadmgr workload-list`)."
    )
    assert "needs the VMs to restore" in cli.fails("snapshot-selective-restore", "x", tool="workloadmgr")
    assert cli.fails("snapshot-show", "nosnap", tool="workloadmgr").endswith(
        "(see `workloadmgr snapshot-list`)."
    )
    assert "expected true or false" in cli.fails(
        "workload-delete", "--database_only", "maybe", "x", tool="workloadmgr"
    )
    assert "Cannot authenticate" in cli.fails("workload-list", tool="workloadmgr", auth=False)
    proc = cli.run("workload-frobnicate", tool="workloadmgr")
    assert proc.returncode == 2 and "'workload-frobnicate' is not a workloadmgr command" in proc.stdout


def test_help_and_completion(cli: Cli) -> None:
    assert "--database_only" in cli.ok("help", "workload-delete", tool="workloadmgr", auth=False)
    text = cli.ok("help", "snapshot-selective-restore", tool="workloadmgr", auth=False)
    assert "--filename" in text and "--wait" in text
    script = cli.ok("completion", "bash", tool="workloadmgr", auth=False)
    assert "_workloadmgr()" in script and "snapshot-oneclick-restore" in script and "complete -F" in script
    plain = cli.ok("completion", "none", tool="workloadmgr", auth=False)
    assert "workload-create" in plain
