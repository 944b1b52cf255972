"""Workload policies, project quotas, nodes, storage usage, metrics and scheduled runs from both command
lines against a real all-in-one API: every command, its output formats and its errors."""

from __future__ import annotations

import datetime as dt
import json

import yaml

from t4o.db.policy_models import ScheduledRun
from t4o.db.session import session_scope
from tests.functional.cli.conftest import Cli

FOUR_HOURLY = ["--field", "interval=4 hr", "--field", "retention_policy_value=7"]


def test_policy_lifecycle(cli: Cli) -> None:
    other = cli.project + "-b"
    made = cli.json(
        "workload", "policy", "create", "gold", *FOUR_HOURLY, "--description", "4-hourly", admin=True
    )
    assert made["name"] == "gold" and made["display_description"] == "4-hourly"
    assert made["field_values"] == {"interval": "4 hr", "retention_policy_value": 7}

    # A member sees the policies assigned to the project only; creating one is for admins.
    assert made["id"] not in [p["ID"] for p in cli.json("workload", "policy", "list")]
    assert "HTTP 403" in cli.fails("workload", "policy", "create", "x", *FOUR_HOURLY)

    assigned = cli.json(
        "workload", "policy", "assign", made["id"], "--project", cli.project, "--project", other, admin=True
    )
    assert sorted(assigned["project_list"]) == sorted([cli.project, other])
    assert [p["ID"] for p in cli.json("workload", "policy", "list")] == [made["id"]]
    assert [p["ID"] for p in cli.json("workload", "policy", "list", "--project", other, admin=True)] == [
        made["id"]
    ]
    assert "HTTP 403" in cli.fails("workload", "policy", "list", "--project", other)
    table = cli.ok("workload", "policy", "list")
    assert "| Field Values" in table and "interval='4 hr'" in table
    assert yaml.safe_load(cli.ok("workload", "policy", "show", made["id"], "-f", "yaml"))["name"] == "gold"
    assert cli.ok("workload", "policy", "list", "-f", "value", "-c", "Name").split() == ["gold"]
    # pages by hand: the admin sees every test's policies, one page of one, then the ones after it
    first = cli.json("workload", "policy", "list", "--limit", "1", admin=True)
    after = cli.json("workload", "policy", "list", "--marker", first[0]["ID"], admin=True)
    assert len(first) == 1 and first[0]["ID"] not in [p["ID"] for p in after]
    assert {p["ID"] for p in first + after} == {
        p["ID"] for p in cli.json("workload", "policy", "list", admin=True)
    }

    # A member's workload follows the policy: its schedule takes the policy's fields.
    vm = cli.cp.add_servers(cli.project, 1)[0]
    wl = cli.json(
        "workload", "create", "--instance", vm, "--policy", "gold", "--jobschedule", "enabled=false"
    )
    assert wl["metadata"]["policy_id"] == made["id"] and wl["jobschedule"]["interval"] == "4 hr"
    assert "HTTP 409" in cli.fails("workload", "policy", "delete", "gold", admin=True)
    assert "No workload policy with name or ID 'lead'" in cli.fails(
        "workload", "set", wl["id"], "--policy", "lead"
    )
    assert cli.ok("workload", "delete", wl["id"]) == ""

    unassigned = cli.json("workload", "policy", "unassign", made["id"], "--project", other, admin=True)
    assert unassigned["project_list"] == [cli.project]

    changed = cli.json(
        "workload",
        "policy",
        "set",
        made["id"],
        "--name",
        "gold-daily",
        "--field",
        'daily={"backup_time": ["01:00"], "retention": 7}',
        "--field",
        'hourly={"interval": 24, "retention": 1}',
        admin=True,
    )
    assert changed["name"] == "gold-daily" and changed["field_values"]["daily"]["backup_time"] == ["01:00"]
    assert "Nothing to change" in cli.fails("workload", "policy", "set", "gold-daily", admin=True)
    assert "HTTP 400" in cli.fails(
        "workload", "policy", "set", "gold-daily", "--field", "interval=often", admin=True
    )

    assert cli.ok("workload", "policy", "delete", "gold-daily", admin=True) == ""
    line = cli.fails("workload", "policy", "show", made["id"], admin=True)
    assert (
        line == f"No workload policy with name or ID '{made['id']}' (see `openstack workload policy list`)."
    )
    assert "needs its schedule fields" in cli.fails("workload", "policy", "create", "empty", admin=True)
    assert "not valid JSON" in cli.fails(
        "workload", "policy", "create", "j", "--field", "hourly={", admin=True
    )


def test_policy_commands_of_workloadmgr(cli: Cli) -> None:
    def wm(*args: str) -> dict:
        return cli.json(*args, tool="workloadmgr", admin=True)

    made = wm(
        "policy-create",
        "--policy-fields",
        "interval=24 hr",
        "--policy-fields",
        "fullbackup_interval=-1",
        "--display-description",
        "daily",
        "silver",
    )
    assert made["field_values"] == {"interval": "24 hr", "fullbackup_interval": -1}
    assert wm("policy-update", "--display-name", "silver2", made["id"])["name"] == "silver2"
    assert wm("policy-assign", "--add_project", cli.project, "silver2")["project_list"] == [cli.project]
    assert wm("policy-show", "silver2")["project_list"] == [cli.project]
    assert made["id"] in [p["ID"] for p in cli.json("policy-list", tool="workloadmgr")]
    assert wm("policy-assign", "--remove_project", cli.project, "silver2")["project_list"] == []
    assert cli.ok("policy-delete", "silver2", tool="workloadmgr", admin=True) == ""
    assert cli.fails("policy-show", "silver2", tool="workloadmgr", admin=True) == (
        "No workload policy with name or ID 'silver2' (see `workloadmgr policy-list`)."
    )
    line = cli.fails("policy-delete", made["id"], "nope", tool="workloadmgr", admin=True)
    assert line.startswith("2 of 2 workload policies not deleted")


def test_quotas(cli: Cli) -> None:
    types = {t["Name"]: t["ID"] for t in cli.json("workload", "quota", "type", "list")}
    assert list(types) == ["Workloads", "Snapshots", "VMs", "Volumes", "Storage"]
    assert cli.json("workload", "quota", "list") == []
    assert "HTTP 403" in cli.fails("workload", "quota", "set", "--workloads", "1")

    rows = cli.json(
        "workload",
        "quota",
        "set",
        "--workloads",
        "1",
        "--storage",
        "2G",
        "--high-watermark",
        "storage=1G",
        admin=True,
    )
    got = {r["Type"]: (r["Allowed"], r["High Watermark"], r["Usage"]) for r in rows}
    assert got == {"Workloads": (1, 1, 0), "Storage": (2 * 1024**3, 1024**3, 0)}

    # The quota is enforced: a second workload is refused with the API's message, on one line.
    vms = cli.cp.add_servers(cli.project, 2)
    cli.json("workload", "create", "--instance", vms[0])
    line = cli.fails("workload", "create", "--instance", vms[1])
    assert "Quota exceeded" in line and "HTTP 403" in line
    shown = cli.json("workload", "quota", "show", "workloads")
    assert (shown["allowed_value"], shown["usage"], shown["quota_type_id"]) == (1, 1, types["Workloads"])
    assert cli.ok(
        "workload", "quota", "show", "Storage", "-f", "value", "-c", "high_watermark"
    ).strip() == str(1024**3)
    table = cli.ok("workload", "quota", "list")
    assert "| Workloads" in table and "| High Watermark" in table

    # only a high watermark: the allowed value stays
    rows = cli.json("workload", "quota", "set", "--high-watermark", "workloads=0", admin=True)
    assert {r["Type"]: (r["Allowed"], r["High Watermark"]) for r in rows}["Workloads"] == (1, 0)
    # only the allowed value: the high watermark set apart from it stays
    rows = cli.json("workload", "quota", "set", "--workloads", "1", admin=True)
    assert {r["Type"]: (r["Allowed"], r["High Watermark"]) for r in rows}["Workloads"] == (1, 0)
    assert "no VMs quota yet" in cli.fails(
        "workload", "quota", "set", "--high-watermark", "vms=2", admin=True
    )
    assert "HTTP 400" in cli.fails("workload", "quota", "set", "--high-watermark", "storage=3G", admin=True)
    assert "Nothing to set" in cli.fails("workload", "quota", "set", admin=True)
    assert "unlimited" in cli.fails("workload", "quota", "set", "--vms", "many", admin=True)
    line = cli.fails("workload", "quota", "show", "vms")
    assert line == f"No allowed quota 'vms' in project {cli.project} (see `openstack workload quota list`)."

    # An admin acts on another project with --project; a member may not look at it.
    other = cli.project + "-b"
    rows = cli.json("workload", "quota", "set", "--project", other, "--vms", "unlimited", admin=True)
    assert [(r["Type"], r["Allowed"]) for r in rows] == [("VMs", -1)]
    assert "HTTP 403" in cli.fails("workload", "quota", "list", "--project", other)

    line = cli.fails("workload", "quota", "delete", "storage")
    assert "HTTP 403" in line
    assert cli.ok("workload", "quota", "delete", "workloads", admin=True) == ""
    assert [r["Type"] for r in cli.json("workload", "quota", "list")] == ["Storage"]
    assert cli.ok("workload", "quota", "reset", admin=True) == ""
    assert cli.json("workload", "quota", "list") == []
    assert cli.ok("workload", "quota", "reset", "--project", other, admin=True) == ""
    assert cli.json("workload", "quota", "list", "--project", other, admin=True) == []
    cli.json("workload", "create", "--instance", vms[1])  # unlimited again


def test_quota_commands_of_workloadmgr(cli: Cli) -> None:
    def wm(*args: str) -> dict:
        return cli.json(*args, tool="workloadmgr", admin=True)

    names = cli.ok("project-quota-type-list", "-f", "value", "-c", "Name", tool="workloadmgr").split()
    assert names == ["Workloads", "Snapshots", "VMs", "Volumes", "Storage"]
    other = cli.project + "-b"
    made = wm(
        "project-allowed-quota-create",
        "--quota-type-id",
        "5c5d3f9e-5f7b-4a55-9a3e-1d0e6c8a0003",
        "--allowed-value",
        "10",
        "--high-watermark",
        "8",
        "--project-id",
        other,
    )
    assert (made["quota_type_name"], made["allowed_value"], made["high_watermark"], made["usage"]) == (
        "VMs",
        10,
        8,
        0,
    )
    assert [
        r["ID"] for r in cli.json("project-allowed-quota-list", other, tool="workloadmgr", admin=True)
    ] == [made["id"]]
    assert wm("project-allowed-quota-show", made["id"], "--project-id", other)["allowed_value"] == 10
    assert wm("project-allowed-quota-update", made["id"], "--allowed-value", "20")["allowed_value"] == 20
    assert "Nothing to change" in cli.fails("project-allowed-quota-update", made["id"], tool="workloadmgr")
    assert cli.ok("project-allowed-quota-delete", made["id"], tool="workloadmgr", admin=True) == ""
    assert cli.json("project-allowed-quota-list", other, tool="workloadmgr", admin=True) == []
    assert "No quota type 'Bananas'" in cli.fails(
        "project-allowed-quota-create",
        "--quota-type-id",
        "Bananas",
        "--allowed-value",
        "1",
        tool="workloadmgr",
    )
    line = cli.fails("project-allowed-quota-show", "vms", tool="workloadmgr")
    assert line.endswith("(see `workloadmgr project-allowed-quota-list`).")


def test_nodes(cli: Cli) -> None:
    nodes = cli.json("workload", "node", "list", admin=True)
    workers = [n for n in nodes if n["Binary"] == "workloadmgr-workloads"]
    assert workers and workers[0]["State"] == "up" and workers[0]["Disabled"] is False
    host = workers[0]["Host"]
    assert {n["Binary"] for n in cli.json("workload", "node", "list", "--host", host, admin=True)} >= {
        "workloadmgr-workloads",
        "workloadmgr-scheduler",
    }
    assert cli.json("workload", "node", "list", "--host", "elsewhere", admin=True) == []
    assert len(cli.json("workload", "node", "list", "--limit", "1", admin=True)) == 1
    assert cli.json("workload", "node", "show", host, admin=True)["binary"] == "workloadmgr-workloads"
    try:
        assert cli.json("workload", "node", "disable", host, admin=True)["disabled"] is True
        value = cli.ok("workload", "node", "show", host, "-f", "value", "-c", "disabled", admin=True)
        assert value.strip() == "True"
        rows = cli.ok("workload-get-nodes", "-f", "csv", tool="workloadmgr", admin=True)
        assert '"workloadmgr-workloads","up",True' in rows
    finally:
        enabled = cli.json("workload-node-enable", host, tool="workloadmgr", admin=True)
    assert enabled["disabled"] is False
    try:
        assert cli.json("workload-node-disable", host, tool="workloadmgr", admin=True)["disabled"] is True
    finally:
        enabled = cli.json("workload", "node", "enable", host, admin=True)
    assert enabled["disabled"] is False
    assert "HTTP 403" in cli.fails("workload", "node", "list")
    assert "HTTP 403" in cli.fails("workload", "node", "disable", host)
    line = cli.fails("workload", "node", "disable", "no-such-host", admin=True)
    assert line == "No workloadmgr-workloads service has reported from host no-such-host."
    line = cli.fails("workload", "node", "show", "no-such-host", admin=True)
    assert line == "No node 'no-such-host' (see `openstack workload node list`)."
    assert "(see `workloadmgr workload-get-nodes`)" in cli.fails(
        "workload-node-show", "no-such-host", tool="workloadmgr", admin=True
    )


def test_usage_metrics_activity_and_scheduled_runs(cli: Cli) -> None:
    vms = cli.cp.add_servers(cli.project, 2)
    wl = cli.json("workload", "create", "--name", "measured", "--instance", vms[0], "--instance", vms[1])
    snap = cli.json("workload", "snapshot", "measured", "--full", "--wait", "--poll-interval", "0.2")

    usage = {r["Project ID"]: r for r in cli.json("workload", "usage", "list", admin=True)}
    mine = usage[cli.project]
    assert mine["Snapshots"] == 1 and isinstance(mine["Bytes"], int) and mine["Size"].endswith("B")
    trilio = cli.json("workload-get-storage-usage", tool="workloadmgr", admin=True)
    assert cli.project in [r["Project ID"] for r in trilio]

    metrics = cli.json("workload", "metrics", "show", admin=True)
    assert metrics["protected_vms"] >= 2 and metrics["snapshots"] >= 1 and metrics["nodes_up"] >= 1
    assert metrics["stored_bytes"] >= mine["Bytes"]
    assert cli.json("workload-get-metrics", tool="workloadmgr", admin=True)["protected_vms"] >= 2

    activity = cli.json("workload", "activity", "list", "--limit", "50", admin=True)
    assert {"Type": "snapshot", "ID": snap["id"], "Status": "available"}.items() <= next(
        a for a in activity if a["ID"] == snap["id"]
    ).items()
    assert (
        len(cli.json("workload-get-recent-activities", "--limit", "1", tool="workloadmgr", admin=True)) == 1
    )

    for command in (
        ["workload", "usage", "list"],
        ["workload", "metrics", "show"],
        ["workload", "activity", "list"],
    ):
        assert "HTTP 403" in cli.fails(*command)

    # no schedule has fired for this workload: an empty list, in every format
    assert cli.json("workload", "run", "list", "measured") == []
    assert cli.ok("workload", "run", "list", wl["id"], "-f", "csv").startswith(
        '"ID","Scheduled Time","Status"'
    )
    assert cli.json("workload-scheduled-runs", wl["id"], tool="workloadmgr") == []
    assert "No workload with name or ID 'ghost'" in cli.fails("workload", "run", "list", "ghost")


def test_scheduled_run_attempts_and_the_reason_of_a_missed_run(cli: Cli) -> None:
    vms = cli.cp.add_servers(cli.project, 1)
    wl = cli.json("workload", "create", "--name", "nightly", "--instance", vms[0])
    # Runs as the cron service records them (it is not part of the all-in-one's test clock): a run that
    # failed once and waits for its retry, and one whose backup window closed before it could start.
    error = "VM web (1a2b): Service Unavailable (HTTP 503)"
    attempt = {
        "attempt": 1,
        "started_at": "2026-03-02T12:00:00Z",
        "ended_at": "2026-03-02T12:01:10Z",
        "result": "error",
        "snapshot_id": "snap-1",
        "error": error,
        "will_retry": True,
        "next_attempt_at": "2026-03-02T12:06:10Z",
        "retry_reason": "a cloud service answered 5xx",
    }
    missed = {
        "reason": "window_closed",
        "window": {"start": "22:00", "end": "06:00"},
        "timezone": "UTC",
        "window_closed_at": "2026-03-03T06:00:00Z",
        "detail": "no cron process ran while it was open",
    }
    with session_scope(f"sqlite:///{cli.cp.workdir}/t4o.sqlite") as s:
        retrying = ScheduledRun(
            workload_id=wl["id"],
            scheduled_time=dt.datetime(2026, 3, 2, 12),
            status="retrying",
            snapshot_id="snap-1",
            snapshot_type="full",
            host="cron-1",
            message=f"{error} [attempt 1 of 4 failed (a cloud service answered 5xx); next attempt at ...]",
            attempts=1,
            next_attempt_at=dt.datetime(2026, 3, 2, 12, 6, 10),
            details={"attempts": [attempt]},
        )
        gone = ScheduledRun(
            workload_id=wl["id"],
            scheduled_time=dt.datetime(2026, 3, 2, 14),
            status="missed",
            host="cron-1",
            message="its backup window 22:00-06:00 (UTC) closed at 2026-03-03T06:00:00Z: no cron process ...",
            details={"missed": missed},
        )
        s.add_all([retrying, gone])
        s.flush()
        ids = (retrying.id, gone.id)

    listed = cli.json("workload", "run", "list", "nightly")
    assert [(r["ID"], r["Status"], r["Attempts"], r["Next Attempt"]) for r in listed] == [
        (ids[0], "retrying", 1, "2026-03-02T12:06:10Z"),
        (ids[1], "missed", 0, None),
    ]
    shown = cli.json("workload", "run", "show", "nightly", ids[0])
    assert shown["attempts"] == [attempt] and shown["attempt_count"] == 1
    text = cli.ok("workload", "run", "show", "nightly", ids[0])
    assert (
        f"#1 2026-03-02T12:00:00Z to 2026-03-02T12:01:10Z: error (snapshot snap-1): {error}; "
        "retried at 2026-03-02T12:06:10Z (a cloud service answered 5xx)"
    ) in text
    shown = cli.json("workload-scheduled-run-show", wl["id"], ids[1], tool="workloadmgr")
    assert shown["missed"] == missed and shown["attempts"] == []
    text = cli.ok("workload", "run", "show", "nightly", ids[1])
    assert "window_closed" in text and "2026-03-03T06:00:00Z" in text
    line = cli.fails("workload", "run", "show", "nightly", "no-such-run")
    assert line == f"Scheduled run no-such-run of workload {wl['id']} not found.", line


def test_help_of_the_new_groups(cli: Cli) -> None:
    text = cli.ok("help", "workload", "quota", "set", auth=False)
    assert "--storage" in text and "500G" in text and "--high-watermark" in text
    text = cli.ok("help", "policy-create", tool="workloadmgr", auth=False)
    assert "--policy-fields" in text and "retention_policy_type" in text
    listing = json.loads(
        cli.ok("command", "list", "--group", "openstack.workload.v1", "-f", "json", auth=False)
    )
    names = {c for group in listing for c in group["Commands"]}
    assert {
        "workload policy assign",
        "workload quota reset",
        "workload node disable",
        "workload usage list",
    } <= names
