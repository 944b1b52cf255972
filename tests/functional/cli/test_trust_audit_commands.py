"""Trusts and the audit log from both command lines against a real all-in-one API (no Keystone there:
a trust is created in tests/integration/test_trusts.py)."""

from __future__ import annotations

from tests.functional.cli.conftest import Cli


def test_trust_commands_without_keystone(cli: Cli) -> None:
    assert cli.json("workload", "trust", "list") == []
    assert cli.json("trust-list", tool="workloadmgr") == []
    assert "Trust trust-nobody not found" in cli.fails("workload", "trust", "show", "trust-nobody")
    assert "Trust trust-nobody not found" in cli.fails("trust-show", "trust-nobody", tool="workloadmgr")
    assert "[trustee]" in cli.fails("workload", "trust", "create", "member")
    assert "administrator" in cli.fails(
        "trust-create", "admin", "--is_cloud_trust", "True", tool="workloadmgr"
    )
    assert "expected true or false" in cli.fails("workload", "trust", "create", "--is-cloud-trust", "maybe")
    assert "Trust trust-nobody not found" in cli.fails("trust-delete", "trust-nobody", tool="workloadmgr")
    assert "Trust trust-nobody not found" in cli.fails("workload", "trust", "delete", "trust-nobody")


def test_auditlog_commands(cli: Cli) -> None:
    cli.ok("workload", "setting", "create", "colour", "blue")
    assert "not found" in cli.fails("workload", "setting", "delete", "no-such-setting")
    rows = cli.json("workload", "auditlog", "list", "--time-in-minutes", "10", admin=True)
    mine = [r for r in rows if r["Project ID"] == cli.project]
    assert [(r["Action"], r["Object ID"], r["Result"]) for r in mine] == [
        ("DELETE deleteSetting", "no-such-setting", "failure"),
        ("POST createSettings", "colour", "success"),
    ]
    assert mine[0]["User ID"] == "alice" and "no-such-setting" in mine[0]["Details"]
    rows = cli.json("workload-get-auditlog", "--time_in_minutes", "10", tool="workloadmgr", admin=True)
    assert [r["Object ID"] for r in rows if r["Project ID"] == cli.project] == ["no-such-setting", "colour"]
    assert "HTTP 403" in cli.fails("workload", "auditlog", "list")
    assert "HTTP 400" in cli.fails(
        "workload-get-auditlog", "--time_in_minutes", "0", tool="workloadmgr", admin=True
    )
