"""`workloadmgr file-search` (and Trilio's `filepath-search`) and `openstack workload file search`
against a real all-in-one API whose backup target holds three snapshots of a VM with real ext4 disks
(a different tree per snapshot, written by the test): the rows name, per snapshot, the version of each
file the test wrote there; the wait shows its progress; errors are the API's one line."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from t4o.vault import open_target
from tests.fixtures.control_plane import ControlPlane, admin
from tests.functional.cli.conftest import Cli
from tests.functional.test_api_file_search import (
    DAY,
    MTIME,
    TREES,
    VDB_TREE,
    Vm,
    _mkfs,
    _partitioned,
    write_vm,
)

DEMO = "demo"


@dataclass
class Env:
    cp: ControlPlane
    vm: Vm  # three snapshots of TREES, oldest first; the newest has vdb too


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    workdir = tmp_path_factory.mktemp("cli-search")
    vdas = [
        _mkfs(workdir / f"t{i}", t, workdir / f"vda{i}.img", MTIME + i * DAY) for i, t in enumerate(TREES)
    ]
    vdb = _partitioned(_mkfs(workdir / "tvdb", VDB_TREE, workdir / "vdb-fs.img", MTIME), workdir)
    url = str(workdir / "vault")
    vm = write_vm(
        open_target(url, create_if_missing=True),
        DEMO,
        "cli",
        [{"vda": vdas[0]}, {"vda": vdas[1]}, {"vda": vdas[2], "vdb": vdb}],
    )
    cp = ControlPlane(workdir / "cp", {"backup_target": {"url": url}})
    try:
        cp.start_all_in_one()
        resp = cp.request("POST", "/workloads/import_workloads", "admin", admin("admin"), json={})
        assert resp.status_code == 200 and not resp.json()["workloads"]["failed_workloads"], resp.text
        yield Env(cp, vm)
    finally:
        cp.stop()


@pytest.fixture
def cli(env: Env, tmp_path: Path) -> Cli:
    return Cli(env.cp, DEMO, tmp_path)


def versions(rel: str, indexes: list[int]) -> list[tuple[str, str, int, str]]:
    """(snapshot ID, path, size, modified) of the file ``rel`` in the main VM's snapshots ``indexes``
    (newest first), as the test wrote them; a snapshot without it has no row."""
    return [
        (str(i), "/" + rel, len(TREES[i][rel]), f"2023-11-{14 + i}T22:13:20Z")
        for i in indexes
        if rel in TREES[i]
    ]


def rows_of(env: Env, rows: list[dict[str, Any]]) -> list[tuple[str, str, int, str]]:
    """The rows of vda with a path, their snapshot named by its index."""
    index = {s.id: str(i) for i, s in enumerate(env.vm.snapshots)}
    return [
        (index[r["Snapshot ID"]], r["Path"], r["Size"], r["Modified"])
        for r in rows
        if r["Path"] and r["Disk"] == "vda"
    ]


def test_file_search_lists_each_snapshots_version(env: Env, cli: Cli) -> None:
    rows = cli.json("file-search", "--vm-id", env.vm.vm_id, "--filepath", "/etc/hosts", tool="workloadmgr")
    assert rows_of(env, rows) == versions("etc/hosts", [2, 1, 0])
    # the newest snapshot's second disk: its partition 1 has its own /etc/hosts
    vdb = [(r["Disk"], r["Partition"], r["Path"], r["Size"]) for r in rows if r["Disk"] == "vdb"]
    assert vdb == [("vdb", 1, "/etc/hosts", len(VDB_TREE["etc/hosts"]))]
    names = {r["Snapshot ID"]: r["Snapshot Name"] for r in rows}
    assert names == {s.id: s.name for s in env.vm.snapshots}

    # a table; the snapshots without the file say so
    proc = cli.run(
        "file-search", "--vm-id", env.vm.vm_id, "--filepath", "/home/alice/notes.txt",
        "--poll-interval", "0.2", tool="workloadmgr",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    header = [h.strip() for h in lines[1].strip("|").split("|")]
    assert header == [
        "Snapshot ID", "Snapshot Name", "Snapshot Created", "Disk", "Partition", "Path", "Type", "Size",
        "Mode", "Modified", "Note",
    ]  # fmt: skip
    body = [[c.strip() for c in line.strip("|").split("|")] for line in lines[3:-1]]
    assert [(r[0], r[5], r[10]) for r in body] == [
        (env.vm.snapshots[2].id, "", "no match"),
        (env.vm.snapshots[1].id, "", "no match"),
        (env.vm.snapshots[0].id, "/home/alice/notes.txt", ""),
    ]
    # the progress (not a terminal: one line per change) ends at 100%
    progress = [line for line in proc.stderr.splitlines() if line.startswith("Search ")]
    assert progress and "100%" in progress[-1] and "completed" in progress[-1], proc.stderr
    assert "3 snapshot(s) searched" in progress[-1]


def test_trilio_filepath_search_and_openstack_names(env: Env, cli: Cli) -> None:
    old, middle, new = (s.id for s in env.vm.snapshots)
    # Trilio's form: positional VM and path, --snapshotids repeated
    rows = cli.json(
        "filepath-search", env.vm.vm_id, "/var/log/*.log", "--snapshotids", old, "--snapshotids", new,
        tool="workloadmgr",
    )  # fmt: skip
    expected = [row for rel in ("var/log/a.log", "var/log/c.log") for row in versions(rel, [2])]
    expected += [row for rel in ("var/log/a.log", "var/log/b.log") for row in versions(rel, [0])]
    assert rows_of(env, rows) == expected
    # a regex, the newest two only
    rows = cli.json(
        "workload", "file", "search", "--vm-id", env.vm.vm_id, "--filepath", r"^/etc/app/.*\.yaml$",
        "--start", "0", "--end", "2",
    )  # fmt: skip
    assert rows_of(env, rows) == versions("etc/app/config.yaml", [2, 1])
    assert {r["Snapshot ID"] for r in rows} == {new, middle}
    # dates: the middle snapshot only (taken an hour after the oldest)
    when = env.vm.snapshots[1].created_at.isoformat()
    rows = cli.json(
        "workload", "file", "search", env.vm.vm_id, "hosts", "--date-from", when, "--date-to", when,
    )  # fmt: skip
    assert rows_of(env, rows) == versions("etc/hosts", [1])


def test_list_and_show(env: Env, cli: Cli) -> None:
    cli.json("file-search", "--vm-id", env.vm.vm_id, "--filepath", "/srv/app.yaml", tool="workloadmgr")
    listed = cli.json("file-search-list", tool="workloadmgr")
    newest = listed[0]
    assert (newest["Filepath"], newest["Status"], newest["Progress"], newest["VM ID"]) == (
        "/srv/app.yaml", "completed", 100, env.vm.vm_id,
    )  # fmt: skip
    assert [r["ID"] for r in cli.json("workload", "file", "search", "list", "--limit", "1")] == [newest["ID"]]
    proc = cli.run("workload", "file", "search", "show", newest["ID"], "-f", "json")
    assert proc.returncode == 0, proc.stderr
    assert f"File search {newest['ID']} of /srv/app.yaml" in proc.stderr and "completed 100%" in proc.stderr
    assert rows_of(env, json.loads(proc.stdout)) == versions("srv/app.yaml", [2])
    shown = cli.json("file-search-show", newest["ID"], tool="workloadmgr")
    assert [r["Note"] for r in shown] == ["", "no match", "no match"]


def test_errors(env: Env, cli: Cli) -> None:
    missing = str(uuid.uuid4())
    line = cli.fails("file-search", "--vm-id", missing, "--filepath", "/etc/hosts", tool="workloadmgr")
    assert f"holds VM {missing}" in line
    line = cli.fails("workload", "file", "search", "--vm-id", env.vm.vm_id, "--filepath", "^(x")
    assert "not a valid regular expression" in line
    line = cli.fails("file-search", "--vm-id", env.vm.vm_id, tool="workloadmgr")
    assert "--filepath" in line
    line = cli.fails("file-search", env.vm.vm_id, "/x", "--start", "-1", tool="workloadmgr")
    assert "--start must be 0 or more" in line
    line = cli.fails("file-search-show", missing, tool="workloadmgr")
    assert missing in line
