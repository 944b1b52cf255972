"""The command tables: entry points match, Trilio's names exist, every option explains itself."""

from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path
from unittest import mock

import pytest

from t4o.cli import commands, osc_plugin
from t4o.cli.workloads import instance_id, jobschedule

ROOT = Path(__file__).resolve().parents[3]

TRILIO_NAMES = {
    "workload-create",
    "workload-list",
    "workload-show",
    "workload-modify",
    "workload-delete",
    "workload-unlock",
    "workload-reset",
    "workload-snapshot",
    "snapshot-list",
    "snapshot-show",
    "snapshot-delete",
    "snapshot-cancel",
    "snapshot-oneclick-restore",
    "snapshot-selective-restore",
    "snapshot-inplace-restore",
    "restore-list",
    "restore-show",
    "restore-delete",
    "restore-cancel",
    "restore-network-topology",
    "restore-security-groups",
    "setting-create",
    "setting-show",
    "setting-update",
    "setting-delete",
    "setting-list",
    "enable-global-job-scheduler",
    "disable-global-job-scheduler",
    "policy-create",
    "policy-update",
    "policy-assign",
    "policy-delete",
    "policy-list",
    "policy-show",
    "project-quota-type-list",
    "project-allowed-quota-create",
    "project-allowed-quota-update",
    "project-allowed-quota-list",
    "project-allowed-quota-show",
    "project-allowed-quota-delete",
    "workload-get-storage-usage",
    "workload-get-nodes",
}


def test_entry_points_match_the_table() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    points = project["entry-points"]["openstack.workload.v1"]
    expected = {n.replace(" ", "_"): f"{c.__module__}:{c.__name__}" for n, c in commands.OSC_COMMANDS.items()}
    assert points == expected
    assert project["entry-points"]["openstack.cli.extension"] == {"workload": "t4o.cli.osc_plugin"}
    assert project["scripts"]["workloadmgr"] == "t4o.cli.shell:main"


def test_trilio_names() -> None:
    assert set(commands.WORKLOADMGR_COMMANDS) >= TRILIO_NAMES


ALL = sorted({*commands.OSC_COMMANDS.items(), *commands.WORKLOADMGR_COMMANDS.items()})


@pytest.mark.parametrize(("name", "cls"), ALL, ids=[n for n, _ in ALL])
def test_every_option_has_help(name: str, cls: type) -> None:
    cmd = cls(mock.Mock(), mock.Mock())
    parser = cmd.get_parser(name)
    assert (cls.__doc__ or "").strip(), f"{name} has no description"
    for action in parser._actions:
        # argparse's --help and cliff's deliberately hidden formatter options aside
        if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
            continue
        assert action.help, f"{name}: {action.option_strings or action.dest} has no help"


def test_option_types() -> None:
    assert instance_id("instance-id=abc") == "abc" and instance_id("abc") == "abc"
    with pytest.raises(argparse.ArgumentTypeError):
        instance_id("server=abc")
    assert jobschedule([("enabled", "true"), ("fullbackup_interval", "-1"), ("interval", "24 hr")]) == {
        "enabled": True,
        "fullbackup_interval": -1,
        "interval": "24 hr",
    }
    assert jobschedule(None) is None


def test_make_client_uses_the_catalog_or_the_override() -> None:
    instance = mock.Mock(interface="internal", region_name="R1")
    instance._cli_options.config = {"auth_type": "password", "workloads_endpoint_override": None}
    client = osc_plugin.make_client(instance)
    assert client.http.interface == "internal" and client.http.region_name == "R1"
    assert client.http.project_id is None
    instance._cli_options.config = {"auth_type": "admin_token", "auth": {"token": "u:proj:member"}}
    assert osc_plugin.make_client(instance).http.project_id == "proj"


def test_every_command_is_run_by_a_functional_test() -> None:
    """Each command of both programs appears in the functional tests that run it against the API."""
    sources = "\n".join(p.read_text() for p in (ROOT / "tests/functional/cli").glob("test_*.py"))
    flat = re.sub(r"\s+", " ", sources)
    untested = [n for n in commands.OSC_COMMANDS if ", ".join(f'"{w}"' for w in n.split()) not in flat]
    untested += [n for n in commands.WORKLOADMGR_COMMANDS if f'"{n}"' not in sources]
    assert untested == []


def test_workload_set_sends_a_new_secret_for_rotation() -> None:
    cmd = commands.OSC_COMMANDS["workload set"](mock.Mock(), mock.Mock())
    args = cmd.get_parser("workload set").parse_args(["wl-1", "--secret-uuid", "secret-2"])
    client = mock.Mock()
    client.workloads.find.return_value = mock.Mock(id="wl-1")
    client.workloads.update.return_value = {"id": "wl-1"}
    with mock.patch("t4o.cli.base.show", side_effect=lambda resource: resource):
        cmd.act(client, args)
    client.workloads.update.assert_called_once()
    assert client.workloads.update.call_args.kwargs["secret_uuid"] == "secret-2"
