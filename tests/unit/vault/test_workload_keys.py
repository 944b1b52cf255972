"""Workload keys: a random key per workload, wrapped by a secret kept outside the target, used for the
workload's chunks and documents; rotation re-wraps it; a wrong or missing secret fails clearly."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from t4o.vault import (
    InvalidArgument,
    PosixBackend,
    Repository,
    WorkloadKeyLocked,
    WorkloadKeyMissing,
    WrongWorkloadSecret,
)

from .conftest import CS, make_disk

SECRET = os.urandom(32)
REF = "http://kms/v1/secrets/11111111-2222-3333-4444-555555555555"
MARK = "vm-definition-marker-7f3a"  # text of a VM record that must not be stored in clear


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _reopen(tmp_path: Path) -> Repository:
    return Repository.open(PosixBackend(tmp_path / "repo", fsync=False))


def _backup(repo: Repository, disk: str, wl: str, **kw):
    return repo.backup_disk(disk, "vda", workload_id=wl, metadata={"definition": MARK}, **kw)


def test_a_workload_key_encrypts_chunks_and_documents_and_restores(repo, tmp_path):
    disk = make_disk(tmp_path / "d", [os.urandom(16), None, b"x"], tail=b"tail")
    assert repo.create_workload_key("wl-1", REF, SECRET)
    m = _backup(repo, disk, "wl-1")
    repo.put_snapshot_metadata(m.snapshot_id, {"vms": [{"definition": MARK}]}, "wl-1")
    repo.put_workload("wl-1", {"name": MARK})
    assert m.encrypted and m.keys == "workload"

    stored = _files(tmp_path / "repo")
    blob = b"".join(stored.values())
    assert MARK.encode() not in blob  # manifests' metadata, snapshot and workload documents are sealed
    assert SECRET not in blob and SECRET.hex().encode() not in blob
    key_doc = json.loads(stored["keys/wl-1"])
    assert key_doc["secret_ref"] == REF and key_doc["workload_id"] == "wl-1"
    own = repo.require_workload_key("wl-1").key
    assert own not in blob and own.hex().encode() not in blob
    # Not derivable from the repository: another repository's master key plays no part.
    assert own not in repo.keys.workload_keys("wl-1")

    # A new process sees nothing until it unlocks the workload with the secret.
    again = _reopen(tmp_path)
    with pytest.raises(WorkloadKeyLocked, match=REF):
        again.restore_disk(m.ref, tmp_path / "r0")
    with pytest.raises(WorkloadKeyLocked):
        again.get_workload("wl-1")
    listed = again.list_snapshots("wl-1")
    assert [(s["snapshot_id"], s.get("locked")) for s in listed] == [(m.snapshot_id, True)]
    assert again.unlock_workload("wl-1", SECRET) == REF
    again.restore_disk(m.ref, tmp_path / "r1")
    assert (tmp_path / "r1").read_bytes() == Path(disk).read_bytes()
    assert again.get_workload("wl-1") == {"name": MARK}
    assert again.get_snapshot(m.snapshot_id)["metadata"] == {"vms": [{"definition": MARK}]}
    assert again.get_manifest(m.ref).metadata == {"definition": MARK}


def test_a_wrong_or_short_secret_is_refused_with_a_clear_error(repo, tmp_path):
    repo.create_workload_key("wl-1", REF, SECRET)
    again = _reopen(tmp_path)
    with pytest.raises(WrongWorkloadSecret, match=f"wrapped by secret {REF}"):
        again.unlock_workload("wl-1", os.urandom(32))
    with pytest.raises(InvalidArgument, match="at least 16 bytes"):
        again.unlock_workload("wl-1", b"short")
    with pytest.raises(WorkloadKeyMissing, match="no key of its own"):
        again.unlock_workload("wl-2", SECRET)
    # Creating again with another secret does not replace the key: it must unlock the existing one.
    with pytest.raises(WrongWorkloadSecret):
        again.create_workload_key("wl-1", "other-ref", os.urandom(32))
    assert not again.create_workload_key("wl-1", REF, SECRET)


def test_a_locked_workload_is_never_written_in_clear(repo, tmp_path):
    disk = make_disk(tmp_path / "d", [b"a"])
    repo.create_workload_key("wl-1", REF, SECRET)
    again = _reopen(tmp_path)
    with pytest.raises(WorkloadKeyLocked):
        _backup(again, disk, "wl-1")
    with pytest.raises(WorkloadKeyLocked):
        again.put_workload("wl-1", {"name": MARK})
    again.unlock_workload("wl-1", SECRET)
    with pytest.raises(InvalidArgument, match="always encrypted"):
        _backup(again, disk, "wl-1", encrypt=False)
    assert not any(MARK.encode() in b for b in _files(tmp_path / "repo").values())


def test_rotation_rewraps_the_key_without_rewriting_data(repo, tmp_path):
    disk = make_disk(tmp_path / "d", [os.urandom(16), b"y", os.urandom(16)])
    repo.create_workload_key("wl-1", REF, SECRET)
    m = _backup(repo, disk, "wl-1")
    before = {k: v for k, v in _files(tmp_path / "repo").items() if not k.startswith(("keys/", "locks/"))}
    new_secret, new_ref = os.urandom(32), REF.replace("1111", "9999")
    repo.rewrap_workload_key("wl-1", SECRET, new_ref, new_secret)
    after = _files(tmp_path / "repo")
    assert {k: after[k] for k in before} == before  # packs, index, manifests: byte for byte the same
    doc = json.loads(after["keys/wl-1"])
    assert doc["secret_ref"] == new_ref and doc["rewrapped"]

    again = _reopen(tmp_path)
    with pytest.raises(WrongWorkloadSecret, match=new_ref):
        again.unlock_workload("wl-1", SECRET)
    again.unlock_workload("wl-1", new_secret)
    again.restore_disk(m.ref, tmp_path / "r")
    assert (tmp_path / "r").read_bytes() == Path(disk).read_bytes()
    # An incremental on the rotated key still uses the parent's blocks.
    m2 = again.backup_disk(disk, "vda", parent=m.ref, changed_extents=[(0, CS)], workload_id="wl-1")
    assert m2.stats["new_chunks"] <= 1 and m2.keys == "workload"
    with pytest.raises(WrongWorkloadSecret):
        again.rewrap_workload_key("wl-1", SECRET, REF, SECRET)


def test_unencrypted_workloads_still_deduplicate_and_an_own_key_does_not(repo, tmp_path):
    disk = make_disk(tmp_path / "d", [os.urandom(16), os.urandom(16)])
    first = repo.backup_disk(disk, "vda", workload_id="plain-1")
    second = repo.backup_disk(disk, "vda", workload_id="plain-2")
    assert first.stats["new_chunks"] == 2 and second.stats["new_chunks"] == 0
    repo.create_workload_key("wl-1", REF, SECRET)
    own = repo.backup_disk(disk, "vda", workload_id="wl-1")
    assert own.stats["new_chunks"] == 2 and not set(own.blob_ids()) & set(first.blob_ids())


def test_a_parent_under_other_keys_is_not_used(repo, tmp_path):
    disk = make_disk(tmp_path / "d", [os.urandom(16)])
    plain = repo.backup_disk(disk, "vda", workload_id="wl-1")
    repo.create_workload_key("wl-1", REF, SECRET)
    with pytest.raises(InvalidArgument, match="another encryption domain"):
        repo.backup_disk(disk, "vda", workload_id="wl-1", parent=plain.ref, changed_extents=[(0, CS)])
    full = repo.backup_disk(disk, "vda", workload_id="wl-1", parent=plain.ref)
    assert full.keys == "workload" and full.stats["new_chunks"] == 1


def test_verify_without_the_key_checks_presence_and_with_it_reads(repo, tmp_path):
    disk = make_disk(tmp_path / "d", [os.urandom(16), b"z"])
    repo.create_workload_key("wl-1", REF, SECRET)
    m = _backup(repo, disk, "wl-1")
    again = _reopen(tmp_path)
    report = again.verify(read_data=True)
    assert report.ok and report.locked == {m.ref} and report.bytes_read == 0
    again.unlock_workload("wl-1", SECRET)
    report = again.verify(read_data=True)
    assert report.ok and not report.locked and report.bytes_read == 2 * CS


def test_the_key_goes_with_the_workloads_last_snapshot(repo, tmp_path):
    disk = make_disk(tmp_path / "d", [b"k"])
    repo.create_workload_key("wl-1", REF, SECRET)
    m = _backup(repo, disk, "wl-1")
    repo.put_workload("wl-1", {"name": "w"})
    repo.archive.delete_workload("wl-1")  # a snapshot is left: the key stays
    assert repo.workload_key_info("wl-1") is not None
    repo.delete_snapshot(m.snapshot_id)
    repo.put_workload("wl-1", {"name": "w"})
    assert repo.archive.delete_workload("wl-1")
    assert repo.workload_key_info("wl-1") is None
    again = _reopen(tmp_path)
    with pytest.raises(WorkloadKeyMissing):
        again.unlock_workload("wl-1", SECRET)


def test_a_lost_key_leaves_the_snapshots_listed_and_unreadable(repo, tmp_path):
    disk = make_disk(tmp_path / "d", [b"q"])
    repo.create_workload_key("wl-1", REF, SECRET)
    m = _backup(repo, disk, "wl-1")
    repo.delete_workload_key("wl-1")
    again = _reopen(tmp_path)
    assert [s["snapshot_id"] for s in again.list_snapshots("wl-1")] == [m.snapshot_id]
    with pytest.raises(WorkloadKeyMissing, match="holds no key"):
        again.restore_disk(m.ref, tmp_path / "r")
