"""`openstack workload ...` against a real all-in-one API: every command, output formats and errors."""

from __future__ import annotations

import json
import time
from pathlib import Path

import yaml

from tests.functional.cli.conftest import Cli

PARALLEL = "2ddd528d-c9b4-4d7e-8722-cc395140255a"


def create(cli: Cli, name: str, vms: list[str], *extra: str) -> dict:
    args = ["workload", "create", "--name", name, *[a for vm in vms for a in ("--instance", vm)], *extra]
    return cli.json(*args)


def test_workload_types(cli: Cli) -> None:
    types = {t["Name"]: t["ID"] for t in cli.json("workload", "type", "list")}
    assert types["Parallel"] == PARALLEL
    assert [t["Name"] for t in cli.json("workload", "type", "list", "--limit", "1")] == ["Parallel"]
    assert [t["Name"] for t in cli.json("workload", "type", "list", "--marker", PARALLEL)] == ["Serial"]
    assert cli.json("workload", "type", "show", "Parallel")["id"] == PARALLEL
    assert "No workload type with name or ID 'Nope'" in cli.fails("workload", "type", "show", "Nope")


def test_workload_create_list_show_set_delete_in_every_format(cli: Cli) -> None:
    vms = cli.cp.add_servers(cli.project, 3)
    wl = create(
        cli,
        "web",
        vms[:2],
        "--workload-type",
        "Parallel",
        "--description",
        "front end",
        "--metadata",
        "team=ops",
        "--jobschedule",
        "enabled=false",
        "--jobschedule",
        "interval=12 hr",
        "--jobschedule",
        "retention_policy_value=7",
    )
    assert wl["name"] == "web" and wl["workload_type_id"] == PARALLEL and wl["status"] == "available"
    assert wl["metadata"] == {"team": "ops"}
    assert wl["jobschedule"]["enabled"] is False and wl["jobschedule"]["retention_policy_value"] == 7
    assert sorted(i["id"] for i in wl["instances"]) == sorted(vms[:2])

    table = cli.ok("workload", "list")
    assert "| ID " in table and "web" in table and wl["id"] in table
    listed = cli.json("workload", "list")
    assert [(w["ID"], w["Name"], w["Status"]) for w in listed] == [(wl["id"], "web", "available")]
    assert sorted(listed[0]["Instances"]) == sorted(vms[:2])
    assert yaml.safe_load(cli.ok("workload", "list", "-f", "yaml"))[0]["Name"] == "web"
    assert cli.ok("workload", "list", "-f", "value", "-c", "Name").strip() == "web"
    assert cli.ok("workload", "list", "-f", "csv").startswith('"ID","Name"')

    shown = cli.json("workload", "show", "web")
    assert shown["id"] == wl["id"] and shown["storage_usage"]["full"]["snap_count"] == 0
    assert cli.ok("workload", "show", wl["id"], "-f", "value", "-c", "description").strip() == "front end"
    assert yaml.safe_load(cli.ok("workload", "show", "web", "-f", "yaml"))["name"] == "web"
    assert "| storage_usage" in cli.ok("workload", "show", "web")

    changed = cli.json("workload", "set", "web", "--name", "web2", "--instance", vms[2], "--metadata", "a=b")
    assert changed["name"] == "web2" and [i["id"] for i in changed["instances"]] == [vms[2]]
    assert changed["metadata"] == {"a": "b"}
    assert "Nothing to change" in cli.fails("workload", "set", "web2")

    paused = cli.json("workload", "pause", "web2")
    assert paused["jobschedule"]["enabled"] is False
    assert cli.json("workload", "resume", "web2")["jobschedule"]["enabled"] is True
    assert cli.json("workload", "unlock", "web2")["status"] == "available"
    assert cli.json("workload", "reset", "web2")["status"] == "available"

    assert cli.ok("workload", "delete", "web2") == ""
    assert cli.json("workload", "list") == []


def test_workload_name_errors(cli: Cli) -> None:
    vms = cli.cp.add_servers(cli.project, 2)
    one = create(cli, "twin", vms[:1])
    two = create(cli, "twin", vms[1:])
    line = cli.fails("workload", "show", "twin")
    assert "2 workloads are named 'twin'" in line and one["id"] in line and two["id"] in line
    assert "give the ID" in line
    assert cli.json("workload", "show", one["id"])["id"] == one["id"]
    line = cli.fails("workload", "show", "ghost")
    assert line == "No workload with name or ID 'ghost' (see `openstack workload list`)."
    assert "ghost" in cli.fails("workload", "snapshot", "ghost")
    assert "ghost" in cli.fails("workload", "delete", "ghost")
    line = cli.fails("workload", "delete", one["id"], "ghost", "spook")
    assert line.startswith("2 of 3 workloads not deleted")
    # bad input the API refuses: one line with the API's message
    assert "already protected by another workload" in cli.fails("workload", "create", "--instance", vms[1])


def test_create_refuses_unknown_servers_and_types(cli: Cli) -> None:
    line = cli.fails("workload", "create", "--instance", "no-such-server")
    assert "no-such-server" in line and "HTTP 400" in line
    line = cli.fails("workload", "create", "--instance", "x", "--workload-type", "Bogus")
    assert "No workload type with name or ID 'Bogus'" in line
    line = cli.fails("workload", "create", "--instance", "x", "--jobschedule", "enabled")
    assert "expected KEY=VALUE" in line
    assert "--instance" in cli.fails("workload", "create", "--name", "x")


def test_snapshot_wait_list_show_delete(cli: Cli) -> None:
    vms = cli.cp.add_servers(cli.project, 2)
    wl = create(cli, "db", vms)
    proc = cli.run(
        "workload",
        "snapshot",
        "db",
        "--full",
        "--name",
        "nightly",
        "--wait",
        "--poll-interval",
        "0.2",
        "-f",
        "json",
    )
    assert proc.returncode == 0, proc.stderr
    snap = json.loads(proc.stdout)
    assert (
        snap["status"] == "available" and snap["snapshot_type"] == "full" and snap["progress_percent"] == 100
    )
    # not a terminal: one progress line per change, ending with the finished job
    progress = [line for line in proc.stderr.splitlines() if line.startswith("Snapshot ")]
    assert len(progress) >= 2 and "100%" in progress[-1] and "available" in progress[-1]

    incremental = cli.json("workload", "snapshot", wl["id"], "--description", "no wait")
    assert incremental["status"] in ("queued", "executing") and incremental["workload_id"] == wl["id"]
    rows = cli.json("workload", "snapshot", "list", "--workload", "db")
    assert {r["ID"] for r in rows} == {snap["id"], incremental["id"]}
    assert {r["ID"] for r in cli.json("workload", "snapshot", "list", "--status", "available")} >= {
        snap["id"]
    }
    assert cli.json("workload", "snapshot", "list", "--date-from", "2000-01-01T00:00:00")
    assert cli.json("workload", "snapshot", "list", "--date-to", "2000-01-01T00:00:00") == []
    assert "not an ISO 8601" in cli.fails("workload", "snapshot", "list", "--date-from", "yesterday")

    shown = cli.json("workload", "snapshot", "show", "nightly")
    assert shown["id"] == snap["id"] and sorted(vm["id"] for vm in shown["instances"]) == sorted(vms)
    assert (
        cli.ok("workload", "snapshot", "show", snap["id"], "-f", "value", "-c", "name").strip() == "nightly"
    )
    wait_final(cli, incremental["id"])
    assert cli.ok("workload", "snapshot", "delete", snap["id"]) == ""
    assert "No snapshot with name or ID" in cli.fails("workload", "snapshot", "show", snap["id"])


def wait_final(cli: Cli, snapshot_id: str) -> dict:
    return cli.cp.wait_job("snapshot", snapshot_id, cli.project)


def test_snapshot_cancel(cli: Cli) -> None:
    vms = cli.cp.add_servers(cli.project, 20)
    create(cli, "slow", vms)
    snap = cli.json("workload", "snapshot", "slow")
    deadline = time.monotonic() + 10
    while (
        cli.cp.request("GET", f"/snapshots/{snap['id']}", cli.project).json()["snapshot"]["status"]
        != "executing"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    cancelled = cli.json("workload", "snapshot", "cancel", snap["id"])
    assert cancelled["status"] in ("cancelling", "cancelled")
    assert wait_final(cli, snap["id"])["status"] == "cancelled"
    line = cli.fails("workload", "snapshot", "cancel", snap["id"])
    assert "HTTP 409" in line


def test_snapshot_wait_fails_with_the_jobs_error(cli: Cli) -> None:
    vms = cli.cp.add_servers(cli.project, 1)
    create(cli, "doomed", vms)
    # The VM disappears from the cloud after the workload was made: the snapshot job fails.
    data = json.loads(cli.cp.servers_file.read_text())
    data[cli.project] = []
    cli.cp.servers_file.write_text(json.dumps(data))
    line = cli.fails("workload", "snapshot", "doomed", "--wait", "--poll-interval", "0.2")
    assert line.startswith("Snapshot ") and " failed: " in line and vms[0] in line


def test_snapshot_wait_timeout(cli: Cli) -> None:
    vms = cli.cp.add_servers(cli.project, 8)
    create(cli, "long", vms)
    line = cli.fails("workload", "snapshot", "long", "--wait", "--timeout", "0.5", "--poll-interval", "0.2")
    assert "is still" in line and "after 0.5 s" in line


def test_restores(cli: Cli, tmp_path: Path) -> None:
    vms = cli.cp.add_servers(cli.project, 2)
    create(cli, "app", vms)
    snap = cli.json(
        "workload", "snapshot", "app", "--full", "--name", "base", "--wait", "--poll-interval", "0.2"
    )

    oneclick = cli.json(
        "workload", "restore", "create", "base", "--name", "r1", "--wait", "--poll-interval", "0.2"
    )
    assert oneclick["status"] == "available" and oneclick["restore_type"] == "oneclick"
    assert sorted(i["id"] for i in oneclick["instances"]) == sorted(vms)

    yml = tmp_path / "selective.yaml"
    yml.write_text(
        "type: openstack\nrestore_type: selective\noneclickrestore: false\nopenstack:\n  instances:\n"
        f"    - id: {vms[0]}\n      include: true\n      name: copy\n"
        f"    - id: {vms[1]}\n      include: false\n"
    )
    selective = cli.json(
        "workload",
        "restore",
        "create",
        snap["id"],
        "--type",
        "selective",
        "--file",
        str(yml),
        "--wait",
        "--poll-interval",
        "0.2",
    )
    assert selective["restore_type"] == "selective"
    assert [i["id"] for i in selective["instances"]] == [vms[0]]
    assert selective["restore_options"]["openstack"]["instances"][0]["name"] == "copy"

    body = tmp_path / "inplace.json"
    body.write_text(
        json.dumps({"restore": {"name": "from-file", "options": {"openstack": {"instances": []}}}})
    )
    inplace = cli.json(
        "workload",
        "restore",
        "create",
        "base",
        "--type",
        "inplace",
        "--file",
        str(body),
        "--instance",
        vms[1],
        "--network-map",
        "net-a=net-b",
        "--zone",
        "nova",
    )
    assert inplace["name"] == "from-file" and inplace["restore_type"] == "inplace"
    options = inplace["restore_options"]
    assert options["zone"] == "nova" and options["openstack"]["instances"] == [
        {"id": vms[1], "include": True}
    ]
    assert options["openstack"]["networks_mapping"]["networks"][0]["target_network"] == {"id": "net-b"}

    rows = cli.json("workload", "restore", "list", "--snapshot", "base")
    assert {r["ID"] for r in rows} == {oneclick["id"], selective["id"], inplace["id"]}
    assert cli.json("workload", "restore", "show", "r1")["id"] == oneclick["id"]
    cli.cp.wait_job("restore", inplace["id"], cli.project)
    assert "HTTP 409" in cli.fails("workload", "restore", "cancel", oneclick["id"])
    assert cli.ok("workload", "restore", "delete", "r1") == ""
    assert "No restore with name or ID 'r1'" in cli.fails("workload", "restore", "show", "r1")

    # errors: missing or bad files, a selective restore without VMs, an unknown snapshot
    assert "needs the VMs to restore" in cli.fails(
        "workload", "restore", "create", "base", "--type", "selective"
    )
    line = cli.fails(
        "workload", "restore", "create", "base", "--type", "selective", "--file", "/nonexistent.yaml"
    )
    assert line.startswith("Cannot read the restore file /nonexistent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("openstack: [unclosed\n")
    assert "is not valid JSON or YAML" in cli.fails(
        "workload", "restore", "create", "base", "--type", "selective", "--file", str(bad)
    )
    assert "asks for a selective restore, not inplace" in cli.fails(
        "workload", "restore", "create", "base", "--type", "inplace", "--file", str(yml)
    )
    assert "No snapshot with name or ID 'nosnap'" in cli.fails("workload", "restore", "create", "nosnap")


def test_restore_cancel_while_running(cli: Cli) -> None:
    vms = cli.cp.add_servers(cli.project, 20)
    create(cli, "big", vms)
    snap = cli.json("workload", "snapshot", "big", "--wait", "--poll-interval", "0.2")
    restore = cli.json("workload", "restore", "create", snap["id"])
    cancelled = cli.json("workload", "restore", "cancel", restore["id"])
    assert cancelled["status"] in ("cancelling", "cancelled")
    assert cli.cp.wait_job("restore", restore["id"], cli.project)["status"] == "cancelled"


def test_settings(cli: Cli) -> None:
    made = cli.json(
        "workload",
        "setting",
        "create",
        "smtp_server",
        "mail.example.org",
        "--category",
        "email",
        "--description",
        "outgoing mail",
        "--metadata",
        "owner=ops",
    )
    assert (
        made["name"] == "smtp_server" and made["value"] == "mail.example.org" and made["category"] == "email"
    )
    assert "HTTP 409" in cli.fails("workload", "setting", "create", "smtp_server", "other")
    assert [r["Name"] for r in cli.json("workload", "setting", "list")] == ["smtp_server"]
    # three settings span two pages of 2; by hand: one page, then the ones after a name
    for name in ("a_first", "z_last"):
        cli.json("workload", "setting", "create", name, "1")
    assert [r["Name"] for r in cli.json("workload", "setting", "list")] == [
        "a_first",
        "smtp_server",
        "z_last",
    ]
    assert [r["Name"] for r in cli.json("workload", "setting", "list", "--limit", "1")] == ["a_first"]
    after = cli.json("workload", "setting", "list", "--marker", "a_first")
    assert [r["Name"] for r in after] == ["smtp_server", "z_last"]
    assert cli.ok("workload", "setting", "delete", "a_first", "z_last") == ""
    assert cli.json("workload", "setting", "show", "smtp_server")["metadata"] == {"owner": "ops"}
    changed = cli.json("workload", "setting", "set", "smtp_server", "--value", "mx.example.org")
    assert changed["value"] == "mx.example.org"
    assert cli.json("workload", "setting", "set", "smtp_server", "--hidden")["value"] == "mx.example.org"
    assert cli.ok("workload", "setting", "delete", "smtp_server") == ""
    assert "smtp_server" in cli.fails("workload", "setting", "show", "smtp_server")


def test_global_job_scheduler(cli: Cli) -> None:
    assert cli.json("workload", "scheduler", "disable", admin=True) == {"global_job_scheduler": False}
    assert cli.ok("workload", "scheduler", "show", "-f", "value").strip() == "False"
    assert cli.json("workload", "scheduler", "enable", admin=True) == {"global_job_scheduler": True}
    assert cli.json("workload", "scheduler", "show") == {"global_job_scheduler": True}
    assert "HTTP 403" in cli.fails("workload", "scheduler", "disable")


def test_connection_and_auth_errors(cli: Cli) -> None:
    line = cli.fails(
        "--os-endpoint", "http://127.0.0.1:9/v1/p", "--os-token", "a:p", "workload", "list", auth=False
    )
    assert (
        line
        == "Cannot connect to http://127.0.0.1:9/v1/p/workloads: is the service running and the URL right?"
    )
    line = cli.fails("workload", "list", auth=False)
    assert line.startswith("Cannot authenticate: Missing value auth-url") and "--os-cloud" in line
    line = cli.fails("--os-auth-type", "none", "--os-endpoint", cli.cp.url, "workload", "list", auth=False)
    assert "does not name a project" in line
    # A URL that is not Keystone's: the answer says to check the auth URL.
    keystone = [
        "--os-auth-url",
        f"{cli.cp.url}/v3",
        "--os-username",
        "u",
        "--os-password",
        "p",
        "--os-project-name",
        "p",
        "--os-user-domain-name",
        "Default",
        "--os-project-domain-name",
        "Default",
    ]
    line = cli.fails(*keystone, "workload", "list", auth=False)
    assert line.startswith("Keystone did not authenticate:") and "OS_AUTH_URL (--os-auth-url)" in line
    line = cli.fails(*keystone, "workload-list", auth=False, tool="workloadmgr")
    assert line.startswith("Keystone did not authenticate:")
    # A noauth token user:project names the project when the URL does not.
    out = cli.ok(
        "--os-endpoint",
        cli.cp.url,
        "--os-token",
        f"alice:{cli.project}",
        "workload",
        "list",
        "-f",
        "json",
        auth=False,
    )
    assert json.loads(out) == []


def test_help_and_completion(cli: Cli) -> None:
    text = cli.ok("help", "workload", "snapshot", auth=False)
    assert "--wait" in text and "progress bar" in text and "--full" in text
    text = cli.ok("help", "workload", "restore", "create", auth=False)
    assert "--file" in text and "selective" in text and "inplace" in text
    completion = cli.ok("complete", auth=False)
    assert "workload" in completion and "snapshot" in completion and "scheduler" in completion


def test_all_projects_for_admins(cli: Cli) -> None:
    wl = create(cli, "mine", cli.cp.add_servers(cli.project, 1))
    snap = cli.json("workload", "snapshot", "mine", "--wait", "--poll-interval", "0.2")
    other = Cli(cli.cp, cli.project + "x", cli.home)
    assert other.json("workload", "list") == []
    assert wl["id"] in [w["ID"] for w in other.json("workload", "list", "--all-projects", admin=True)]
    assert snap["id"] in [s["ID"] for s in other.json("workload", "snapshot", "list", "--all", admin=True)]
    assert "HTTP 403" in other.fails("workload", "list", "--all-projects")


def test_lists_span_pages(cli: Cli) -> None:
    """The API pages lists (2 items a page here); the CLI shows every item, or one page with --limit."""
    vms = cli.cp.add_servers(cli.project, 5)
    made = [create(cli, f"w{i}", [vm])["id"] for i, vm in enumerate(vms)]
    assert sorted(w["ID"] for w in cli.json("workload", "list")) == sorted(made)
    first = cli.json("workload", "list", "--limit", "2")
    assert len(first) == 2
    rest = cli.json("workload", "list", "--marker", first[-1]["ID"])
    assert sorted(w["ID"] for w in first + rest) == sorted(made)
    names = cli.ok("workload-list", "-f", "value", "-c", "Name", tool="workloadmgr").split()
    assert sorted(names) == [f"w{i}" for i in range(5)]
    assert "HTTP 400" in cli.fails("workload", "list", "--marker", "no-such-workload")
