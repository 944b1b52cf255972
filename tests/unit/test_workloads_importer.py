"""t4o.workloads.importer over a real posix vault and a real SQLite database: import rebuilds workloads and
their snapshot chains from the target alone, twice changes nothing, newer documents are refused;
orphans and reassign."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from t4o.common import errors
from t4o.common.context import RequestContext
from t4o.db import api as db
from t4o.vault import BackendError, PosixBackend, Repository, open_target
from t4o.workloads import documents, importer
from t4o.workloads.flows import snapshot as flow
from t4o.workloads.importer import ImportAPI
from tests.fixtures.target_documents import Written, write_workload

ADMIN = RequestContext(user_id="root", project_id="admin", roles=["admin", "member"])
MEMBER = RequestContext(user_id="alice", project_id="p-live", roles=["member"])


class IdentityCloud:
    """Only the Keystone lookup of the cloud interface: these projects are gone."""

    def __init__(self, gone: set[str]) -> None:
        self.gone = gone
        self.asked: list[set[str]] = []

    def missing_identities(self, ctx: Any, project_ids: set[str], user_ids: set[str]) -> Any:
        self.asked.append(project_ids)
        return project_ids & self.gone, set()


@pytest.fixture
def repo(tmp_path: Path) -> Repository:
    return open_target(str(tmp_path / "vault"), create_if_missing=True)


def api(repo: Repository, gone: set[str] | None = None) -> ImportAPI:
    return ImportAPI(cloud=IdentityCloud(gone or set()), open_target=lambda: repo)  # type: ignore[arg-type]


def assert_rebuilt(written: Written, project_id: str | None = None, user_id: str | None = None) -> None:
    wl = written.workload
    row = db.workload_get(wl.id, None)
    assert (row.name, row.description, row.user_id, row.workload_type_id) == (
        wl.name,
        wl.description,
        user_id or wl.user_id,
        wl.workload_type_id,
    )
    assert row.project_id == (project_id or wl.project_id)
    assert row.jobschedule == wl.jobschedule and row.metadata_ == wl.metadata_
    assert row.created_at == wl.created_at and row.status == "available"
    assert [(v.vm_id, v.vm_name, v.volume_count) for v in row.vms] == [
        (v.vm_id, v.vm_name, v.volume_count) for v in wl.vms
    ]
    snaps = sorted(db.snapshot_list(None, workload_id=wl.id), key=lambda s: s.created_at)
    assert [s.id for s in snaps] == [s.id for s, _, _ in written.snapshots]
    for snap, (want, records, kind) in zip(snaps, written.snapshots, strict=True):
        assert (snap.name, snap.description, snap.snapshot_type, snap.status) == (
            want.name,
            want.description,
            kind,
            "available",
        )
        assert (snap.created_at, snap.started_at, snap.host, snap.metadata_) == (
            want.created_at,
            want.started_at,
            want.host,
            want.metadata_,
        )
        assert snap.size == sum(r["size"] for r in records)
        assert snap.uploaded_size == sum(d["new_bytes"] for r in records for d in r["disks"])
        assert snap.project_id == row.project_id and snap.finished_at is not None
        assert [(v.vm_id, v.vm_name, v.size, v.definition, v.disks) for v in snap.vms] == [
            (r["vm_id"], r["vm_name"], r["size"], r["definition"], r["disks"]) for r in records
        ]
    # The chain: each incremental's disks name the previous snapshot's disks as parent.
    parents = [d.get("ref") for s in snaps for v in s.vms for d in v.disks]
    assert len(set(parents)) == len(snaps)


def test_import_rebuilds_workloads_and_snapshot_chains(t4o_conf: Any, repo: Repository) -> None:
    a = write_workload(repo, "p-live", "alice", "alpha", snapshots=3)
    b = write_workload(repo, "p-two", "bob", "beta", snapshots=1)
    listed = {w["id"]: w for w in api(repo).importable(ADMIN)}
    assert listed[a.workload.id]["snapshots"] == 3 and not listed[a.workload.id]["in_database"]
    assert listed[b.workload.id]["project_id"] == "p-two"

    report = api(repo).import_workloads(ADMIN, None)
    assert sorted(e["id"] for e in report["imported"]) == sorted([a.workload.id, b.workload.id])
    assert report["failed"] == [] and report["unchanged"] == []
    assert_rebuilt(a)
    assert_rebuilt(b)
    assert [
        s.snapshot_type
        for s in sorted(db.snapshot_list(None, workload_id=a.workload.id), key=lambda s: s.created_at)
    ] == ["full", "incremental", "incremental"]
    assert all(w["in_database"] for w in api(repo).importable(ADMIN))


def test_a_second_import_changes_nothing(t4o_conf: Any, repo: Repository) -> None:
    a = write_workload(repo, "p-live", "alice", "alpha")
    api(repo).import_workloads(ADMIN, None)
    before = [(s.id, s.updated_at) for s in db.snapshot_list(None)]
    wl_before = db.workload_get(a.workload.id, None).updated_at
    again = api(repo).import_workloads(ADMIN, [a.workload.id])
    assert again == {"imported": [], "updated": [], "unchanged": [again["unchanged"][0]], "failed": []}
    assert again["unchanged"][0]["id"] == a.workload.id
    assert [(s.id, s.updated_at) for s in db.snapshot_list(None)] == before
    assert db.workload_get(a.workload.id, None).updated_at == wl_before


def test_import_adds_snapshots_taken_since(t4o_conf: Any, repo: Repository) -> None:
    a = write_workload(repo, "p-live", "alice", "alpha", snapshots=1)
    api(repo).import_workloads(ADMIN, None)
    b = write_workload(repo, "p-live", "alice", "beta", snapshots=2)
    report = api(repo).import_workloads(ADMIN, None)
    assert [e["id"] for e in report["imported"]] == [b.workload.id]
    assert [e["id"] for e in report["unchanged"]] == [a.workload.id]


def test_a_newer_document_version_is_refused(t4o_conf: Any, repo: Repository) -> None:
    a = write_workload(repo, "p-live", "alice", "alpha", snapshots=1)
    doc = repo.get_workload(a.workload.id)
    repo.put_workload(a.workload.id, {**doc, "document_version": documents.DOCUMENT_VERSION + 1})
    with pytest.raises(documents.NewerFormat, match="Upgrade T4O"):
        api(repo).import_workloads(ADMIN, None)
    assert db.workload_list(None) == []


def test_documents_of_the_first_version_import_with_defaults(t4o_conf: Any, repo: Repository) -> None:
    a = write_workload(repo, "p-live", "alice", "alpha", snapshots=1)
    wl = a.workload
    snap, records, _ = a.snapshots[0]
    # What snapshots wrote before the documents had a version.
    repo.put_workload(
        wl.id,
        {
            "id": wl.id,
            "name": wl.name,
            "project_id": wl.project_id,
            "vms": [{"id": v.vm_id, "name": v.vm_name} for v in wl.vms],
        },
    )
    repo.put_snapshot_metadata(
        snap.id,
        {
            "t4o_snapshot_id": snap.id,
            "name": snap.name,
            "project_id": wl.project_id,
            "snapshot_type": "full",
            "notes": ["old"],
            "vms": records,
        },
        workload_id=wl.id,
    )
    api(repo).import_workloads(ADMIN, None)
    row = db.workload_get(wl.id, None)
    assert (row.name, row.project_id, row.workload_type_id, row.jobschedule) == (
        wl.name,
        wl.project_id,
        wl.workload_type_id,
        {},
    )
    (imported,) = db.snapshot_list(None, workload_id=wl.id)
    assert (imported.name, imported.size, imported.warning_msg) == (snap.name, records[0]["size"], "old")


def test_only_administrators(t4o_conf: Any, repo: Repository) -> None:
    for call in (
        lambda: api(repo).importable(MEMBER),
        lambda: api(repo).import_workloads(MEMBER, None),
        lambda: api(repo).orphans(MEMBER),
        lambda: api(repo).reassign(MEMBER, ["x"], "p", "u"),
    ):
        with pytest.raises(errors.Forbidden):
            call()


def test_unknown_workload_ids(t4o_conf: Any, repo: Repository) -> None:
    write_workload(repo, "p-live", "alice", "alpha", snapshots=1)
    with pytest.raises(errors.NotFound, match="not on any backup target: nope"):
        api(repo).import_workloads(ADMIN, ["nope"])


def test_orphans_name_workloads_whose_project_is_gone(t4o_conf: Any, repo: Repository) -> None:
    write_workload(repo, "p-live", "alice", "alpha", snapshots=1)
    gone = write_workload(repo, "p-gone", "bob", "beta", snapshots=1)
    orphans = api(repo, gone={"p-gone"}).orphans(ADMIN)
    assert [(o["id"], o["missing"]) for o in orphans] == [(gone.workload.id, ["project"])]
    assert len(api(repo).orphans(ADMIN, migrate_cloud=True)) == 2


def test_reassign_moves_rows_and_the_target_document(t4o_conf: Any, repo: Repository) -> None:
    a = write_workload(repo, "p-gone", "bob", "alpha", snapshots=2)
    b = write_workload(repo, "p-gone", "bob", "beta", snapshots=1)
    api(repo).import_workloads(ADMIN, [a.workload.id])
    moved = api(repo).reassign(ADMIN, [a.workload.id, b.workload.id], "p-new", "carol")
    assert {(m["id"], m["old_project_id"], m["project_id"], m["user_id"]) for m in moved} == {
        (a.workload.id, "p-gone", "p-new", "carol"),
        (b.workload.id, "p-gone", "p-new", "carol"),
    }
    # a was in the database and moved; b was only on the target and came in moved.
    assert_rebuilt(a, project_id="p-new", user_id="carol")
    assert_rebuilt(b, project_id="p-new", user_id="carol")
    assert db.workload_get(a.workload.id, "p-new").user_id == "carol"
    assert repo.get_workload(a.workload.id)["project_id"] == "p-new"
    assert repo.get_workload(b.workload.id)["user_id"] == "carol"


def test_reassign_by_project_map(t4o_conf: Any, repo: Repository) -> None:
    a = write_workload(repo, "p-old", "bob", "alpha", snapshots=1)
    b = write_workload(repo, "p-keep", "bob", "beta", snapshots=1)
    api(repo).import_workloads(ADMIN, None)
    moved = api(repo).reassign(ADMIN, [], None, None, project_map={"p-old": "p-new"})
    assert [(m["id"], m["project_id"], m["user_id"]) for m in moved] == [(a.workload.id, "p-new", "bob")]
    assert db.workload_get(b.workload.id, None).project_id == "p-keep"
    with pytest.raises(errors.BadRequest):
        api(repo).reassign(ADMIN, [], "p-new", None)


def test_the_snapshot_flow_writes_what_import_reads(t4o_conf: Any, repo: Repository) -> None:
    """The snapshot workflow's document writer (kind and parent as taken) feeds import."""
    a = write_workload(repo, "p-live", "alice", "alpha", snapshots=2)
    snap, records, _ = a.snapshots[1]
    renamed = SimpleNamespace(**{**vars(snap), "name": "rewritten"})
    flow._write_documents(repo, a.workload, renamed, records, ["a note"], "incremental", a.snapshots[0][0].id)
    doc = repo.get_snapshot(snap.id)["metadata"]
    assert doc["document_version"] == documents.DOCUMENT_VERSION
    assert (doc["snapshot_type"], doc["parent_snapshot_id"]) == ("incremental", a.snapshots[0][0].id)
    api(repo).import_workloads(ADMIN, None)
    row = db.snapshot_get(snap.id, None)
    assert (row.name, row.snapshot_type, row.warning_msg) == ("rewritten", "incremental", "a note")


def test_a_workload_deleted_from_the_database_only_comes_back(t4o_conf: Any, repo: Repository) -> None:
    a = write_workload(repo, "p-live", "alice", "alpha", snapshots=2)
    api(repo).import_workloads(ADMIN, None)
    db.workload_delete(a.workload.id, None)  # what DELETE ...?database_only=True leaves: rows marked deleted
    (listed,) = api(repo).importable(ADMIN)
    assert (listed["in_database"], listed["deleted_in_database"]) == (False, True)
    report = api(repo).import_workloads(ADMIN, None)
    assert [(e["id"], len(e["snapshots"])) for e in report["imported"]] == [(a.workload.id, 2)]
    assert_rebuilt(a)
    assert api(repo).import_workloads(ADMIN, None)["unchanged"][0]["id"] == a.workload.id


def test_import_from_a_password_protected_target(t4o_conf: Any, tmp_path: Path) -> None:
    """Sealed documents are read through the vault's store like any other."""
    sealed = open_target(str(tmp_path / "sealed"), "secret", create_if_missing=True)
    a = write_workload(sealed, "p-live", "alice", "alpha", snapshots=2)
    assert b"alpha" not in (tmp_path / "sealed" / "workloads" / f"{a.workload.id}.json").read_bytes()
    api(sealed).import_workloads(ADMIN, None)
    assert_rebuilt(a)


def test_an_instance_of_another_workload_fails_only_its_own_workload(
    t4o_conf: Any, repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bulk insert of a batch conflicts; each of its workloads is then imported alone and only the
    one whose VM belongs to another workload fails."""
    monkeypatch.setattr(importer, "IMPORT_BATCH", 2)
    a = write_workload(repo, "p-live", "alice", "alpha", snapshots=1)
    api(repo).import_workloads(ADMIN, [a.workload.id])
    b = write_workload(repo, "p-live", "alice", "beta", snapshots=2)
    c = write_workload(repo, "p-live", "alice", "gamma", snapshots=2)
    d = write_workload(repo, "p-live", "alice", "delta", snapshots=1)
    doc = repo.get_workload(b.workload.id)
    taken = {**doc["vms"][0], "id": a.workload.vms[0].vm_id}
    repo.put_workload(b.workload.id, {**doc, "vms": [taken]})
    report = api(repo).import_workloads(ADMIN, None)
    assert [(f["id"], f["error"]) for f in report["failed"]] == [
        (b.workload.id, "An instance given already belongs to another workload.")
    ]
    assert sorted(e["id"] for e in report["imported"]) == sorted([c.workload.id, d.workload.id])
    assert [e["id"] for e in report["unchanged"]] == [a.workload.id]
    assert_rebuilt(a)
    assert_rebuilt(c)
    assert_rebuilt(d)
    assert db.snapshot_list(None, workload_id=b.workload.id) == []


def test_import_in_batches_keeps_each_workload_its_own_result(
    t4o_conf: Any, repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "IMPORT_BATCH", 2)
    written = [write_workload(repo, "p-live", "alice", f"w{i}", snapshots=i + 1) for i in range(5)]
    first = written[0].workload.id
    api(repo).import_workloads(ADMIN, [first])
    report = api(repo).import_workloads(ADMIN, None)
    got = {e["id"]: len(e["snapshots"]) for e in report["imported"]}
    assert got == {w.workload.id: i + 1 for i, w in enumerate(written) if i}
    assert [e["id"] for e in report["unchanged"]] == [first]
    for w in written:
        assert_rebuilt(w)


def test_snapshots_without_manifest_and_workloads_without_document_are_left_out(
    t4o_conf: Any, repo: Repository
) -> None:
    """A snapshot without a disk manifest does not exist; a workload whose document was never written
    (its first snapshot did not finish) cannot be rebuilt."""
    a = write_workload(repo, "p-live", "alice", "alpha", snapshots=2)
    b = write_workload(repo, "p-live", "alice", "beta", snapshots=1)
    repo.put_snapshot_metadata("unfinished-1", {"name": "no disk yet"}, workload_id=a.workload.id)
    repo.backend.delete(f"workloads/{b.workload.id}.json")
    (listed,) = api(repo).importable(ADMIN)
    assert (listed["id"], listed["snapshots"]) == (a.workload.id, 2)
    report = api(repo).import_workloads(ADMIN, None)
    assert [(e["id"], len(e["snapshots"])) for e in report["imported"]] == [(a.workload.id, 2)]
    assert_rebuilt(a)
    assert db.workloads_in_database([b.workload.id]) == {}


class ClosingBackend(PosixBackend):
    closed = 0

    def close(self) -> None:
        ClosingBackend.closed += 1


def test_the_target_is_closed_after_each_call(t4o_conf: Any, tmp_path: Path) -> None:
    """Each call opens the configured target and closes it (an S3 client keeps connections open)."""
    write_workload(open_target(str(tmp_path / "vault"), create_if_missing=True), "p-gone", "bob", "beta")
    opened: list[Repository] = []

    def open_counted() -> Repository:
        opened.append(Repository.open(ClosingBackend(tmp_path / "vault")))
        return opened[-1]

    calls = ImportAPI(cloud=IdentityCloud({"p-gone"}), open_target=open_counted)  # type: ignore[arg-type]
    (listed,) = calls.importable(ADMIN)
    calls.import_workloads(ADMIN, None)
    calls.orphans(ADMIN)
    calls.reassign(ADMIN, [listed["id"]], "p-new", None)
    with pytest.raises(errors.NotFound):
        calls.import_workloads(ADMIN, ["not-there"])
    assert len(opened) == ClosingBackend.closed == 5


class UnreachableBackend(ClosingBackend):
    def list_keys(self, prefix: str = "") -> Iterator[str]:
        raise BackendError(f"{self.url}: connection refused")


def test_a_target_that_fails_while_read_is_a_conflict_and_is_closed(t4o_conf: Any, tmp_path: Path) -> None:
    open_target(str(tmp_path / "vault"), create_if_missing=True)
    before = ClosingBackend.closed
    calls = ImportAPI(open_target=lambda: Repository.open(UnreachableBackend(tmp_path / "vault")))
    with pytest.raises(
        errors.Conflict, match=r"The backup target 'configured' cannot be read: .*connection refused"
    ):
        calls.import_workloads(ADMIN, None)
    assert ClosingBackend.closed == before + 1
