"""Import, orphans and reassign from both command lines against a real all-in-one API whose backup target
holds workloads written by T4O's own document and archive calls (and whose database starts empty)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from t4o.vault import open_target
from tests.fixtures.control_plane import ControlPlane
from tests.fixtures.target_documents import Written, write_workload
from tests.functional.cli.conftest import Cli


@pytest.fixture(scope="module")
def dr_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ControlPlane, str, list[Written]]]:
    workdir = tmp_path_factory.mktemp("cli-dr")
    repo = open_target(str(workdir / "vault"), create_if_missing=True)
    project = "p" + uuid.uuid4().hex[:12]
    written = [
        write_workload(repo, project, "alice", "alpha", snapshots=2),
        write_workload(repo, "p-gone", "bob", "beta", snapshots=1),
    ]
    cp = ControlPlane(workdir / "cp", {"backup_target": {"url": str(workdir / "vault")}})
    cp.add_servers(project, 1)
    try:
        cp.start_all_in_one()
        yield cp, project, written
    finally:
        cp.stop()


def test_import_orphans_reassign_commands(
    dr_plane: tuple[ControlPlane, str, list[Written]], tmp_path: Path
) -> None:
    cp, project, (alpha, beta) = dr_plane
    cli = Cli(cp, project, tmp_path)
    a, b = alpha.workload.id, beta.workload.id
    assert "HTTP 403" in cli.fails("workload", "importable", "list")

    listed = {w["ID"]: w for w in cli.json("workload", "importable", "list", admin=True)}
    assert set(listed) == {a, b} and listed[a]["Snapshots"] == 2 and listed[a]["In Database"] is False
    assert listed[a]["Backup Target"] == "config"
    one = cli.json("workload", "importable", "list", "--backup-target", "config", admin=True)
    assert {w["ID"] for w in one} == {a, b}
    assert "no backup target nope" in cli.fails(
        "workload", "importable", "list", "--backup-target", "nope", admin=True
    )

    imported = cli.json("workload", "import", "--workload-id", a, admin=True)
    assert [(r["ID"], r["Result"], r["Snapshots Imported"]) for r in imported] == [(a, "imported", 2)]
    # Trilio's names: the rest of the target, then nothing left to do.
    out = cli.ok("workload-importworkloads", tool="workloadmgr", admin=True)
    assert b in out and "imported" in out
    again = cli.json("workload-importworkloads", tool="workloadmgr", admin=True)
    assert {(r["ID"], r["Result"]) for r in again} == {(a, "unchanged"), (b, "unchanged")}
    trilio_list = cli.json("workload-get-importworkloads-list", tool="workloadmgr", admin=True)
    assert all(w["In Database"] for w in trilio_list)
    assert [w["ID"] for w in cli.json("workload", "list")] == [a]

    orphans = cli.json("workload-get-orphaned-workloads-list", tool="workloadmgr", admin=True)
    assert [(w["ID"], w["Missing"]) for w in orphans] == [(b, ["project"])]
    assert len(cli.json("workload", "orphaned", "list", "--migrate-cloud", "true", admin=True)) == 2

    assert "--workload_ids or --old_tenant_ids" in cli.fails("workload", "reassign", admin=True)
    moved = cli.json(
        "workload-reassign-workloads", "--old_tenant_ids", "p-gone", "--new_tenant_id", project,
        "--user_id", "carol", tool="workloadmgr", admin=True,
    )  # fmt: skip
    assert [(m["ID"], m["Old Project ID"], m["Project ID"], m["User ID"]) for m in moved] == [
        (b, "p-gone", project, "carol")
    ]
    assert sorted(w["ID"] for w in cli.json("workload", "list")) == sorted([a, b])
    assert cli.json("workload", "orphaned", "list", admin=True) == []

    # A map file moves them on, as Trilio's reassign_mappings say.
    other = project + "-b"
    (tmp_path / "map.yaml").write_text(
        f"reassign_mappings:\n  - old_tenant_ids: [{project}]\n    new_tenant_id: {other}\n"
        f"    workload_ids: [{a}]\n"
    )
    moved = cli.json("workload", "reassign", "--map-file", str(tmp_path / "map.yaml"), admin=True)
    assert [(m["ID"], m["Project ID"]) for m in moved] == [(a, other)]
    assert [w["ID"] for w in cli.json("workload", "list")] == [b]
