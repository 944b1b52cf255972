"""`workloadmgr snapshot-mount|snapshot-dismount|snapshot-mounted-list` and `openstack workload snapshot
mount|dismount|mounted list`, run as programs against the workloadmgr API of tests/functional/
test_api_mounts.py (served in the test process, with the stub datamover in place of datamover-api)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, cast

import pytest

from tests.functional.cli.conftest import Cli
from tests.functional.test_api_mounts import Api, api  # noqa: F401 - a fixture
from tests.stubs.stub_datamover import recorded_snapshot


@pytest.fixture
def cli(api: Api, tmp_path: Path) -> Cli:  # noqa: F811 - the fixture imported above
    return Cli(cast(Any, api), "p" + uuid.uuid4().hex[:10], tmp_path)


def test_workloadmgr_mount_list_dismount(api: Api, cli: Cli) -> None:  # noqa: F811
    vm = str(uuid.uuid4())
    snap = recorded_snapshot(cli.project, {vm: ["vda", "vdb"]}, name="weekly")
    rescue = api.add_server(cli.project)
    shown = cli.json("snapshot-mount", snap.id, rescue, tool="workloadmgr")
    assert (shown["snapshot_id"], shown["mount_vm_id"], shown["status"]) == (snap.id, rescue, "mounted")
    serials = [d["serial"] for d in api.dm.mounts[shown["id"]]["disks"]]
    assert shown["devices"] == f"vda -> vdb ({serials[0]}), vdb -> vdc ({serials[1]})"

    rows = cli.json("snapshot-mounted-list", tool="workloadmgr")
    assert [
        (r["Snapshot ID"], r["Snapshot Name"], r["Mount VM ID"], r["Status"], r["Devices"]) for r in rows
    ] == [(snap.id, "weekly", rescue, "mounted", shown["devices"])]
    table = cli.ok("snapshot-mounted-list", tool="workloadmgr")
    assert "Expires At" in table and snap.id in table

    line = cli.fails("snapshot-mount", snap.id, rescue, tool="workloadmgr")
    assert "is already mounted" in line and shown["id"] in line

    gone = cli.json("snapshot-dismount", snap.id, tool="workloadmgr")
    assert (gone["status"], gone["dismount_reason"]) == ("dismounted", "dismounted by user alice")
    assert cli.json("snapshot-mounted-list", tool="workloadmgr") == []
    assert "is not mounted" in cli.fails("snapshot-dismount", snap.id, tool="workloadmgr")


def test_openstack_workload_snapshot_mount(api: Api, cli: Cli) -> None:  # noqa: F811
    snap = recorded_snapshot(cli.project, {str(uuid.uuid4()): ["vda"]}, name="by-name")
    rescue, stopped = api.add_server(cli.project), api.add_server(cli.project, status="SHUTOFF")
    line = cli.fails("workload", "snapshot", "mount", "by-name", stopped)
    assert f"Recovery VM {stopped} is SHUTOFF" in line
    assert "not found" in cli.fails("workload", "snapshot", "mount", "by-name", str(uuid.uuid4()))

    shown = cli.json("workload", "snapshot", "mount", "by-name", rescue)  # the snapshot by its name
    assert (shown["snapshot_id"], shown["status"], shown["host"]) == (snap.id, "mounted", "compute-1")
    rows = cli.json("workload", "snapshot", "mounted", "list")
    assert [(r["Snapshot ID"], r["Mount VM ID"]) for r in rows] == [(snap.id, rescue)]
    gone = cli.json("workload", "snapshot", "dismount", snap.id)
    assert gone["status"] == "dismounted" and api.dm.devices_of(rescue) == []
    assert cli.json("workload", "snapshot", "mounted", "list") == []
