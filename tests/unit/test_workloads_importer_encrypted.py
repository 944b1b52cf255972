"""Import of encrypted workloads over a real posix vault and a real SQLite database, Barbican replaced by
a table of secrets: the key object names its secret, the import reads it as the caller and brings the
workload in; a secret the caller cannot read leaves the workload out, reported with the secret named."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from t4o.common import errors
from t4o.common.context import RequestContext
from t4o.db import api as db
from t4o.openstack import barbican
from t4o.vault import Repository, open_target
from t4o.workloads import encryption
from t4o.workloads.importer import ImportAPI
from tests.fixtures.target_documents import write_workload

ADMIN = RequestContext(user_id="root", project_id="admin", roles=["admin", "member"])


class Barbican:
    """The secrets the caller may read; any other is refused as Barbican refuses a foreign secret."""

    def __init__(self) -> None:
        self.readable: dict[str, bytes] = {}
        self.reads: list[str] = []

    def read(self, ref: str, ctx: RequestContext) -> bytes:
        self.reads.append(ref)
        if ref not in self.readable:
            raise barbican.SecretUnavailable(f"Barbican secret {ref} cannot be read (HTTP 403)")
        return self.readable[ref]


@pytest.fixture
def kms() -> Iterator[Barbican]:
    fake = Barbican()
    with mock.patch.object(encryption, "read_secret", fake.read):
        yield fake


@pytest.fixture
def path(tmp_path: Path) -> Path:
    open_target(str(tmp_path / "vault"), create_if_missing=True)
    return tmp_path / "vault"


def writer(path: Path) -> Repository:
    return open_target(str(path))


class GoneProjects:
    """Keystone without project p-gone."""

    def missing_identities(self, ctx: Any, project_ids: set[str], user_ids: set[str]) -> Any:
        return project_ids & {"p-gone"}, set()


def api(path: Path) -> ImportAPI:
    # A repository object per call, as the service opens one: nothing unlocked from an earlier call.
    return ImportAPI(cloud=GoneProjects(), open_target=lambda: open_target(str(path)))  # type: ignore[arg-type]


def secret() -> tuple[str, bytes]:
    return str(uuid.uuid4()), os.urandom(32)


def test_an_encrypted_workload_comes_in_once_its_secret_is_readable(
    t4o_conf: Any, path: Path, kms: Barbican
) -> None:
    ref, payload = secret()
    enc = write_workload(writer(path), "p-demo", "alice", "sealed-name", snapshots=2, secret=(ref, payload))
    clear = write_workload(writer(path), "p-demo", "alice", "clear", snapshots=1)
    doc = (path / "workloads" / f"{enc.workload.id}.json").read_bytes()
    assert b"sealed-name" not in doc and b"p-demo" not in doc  # what import has to unlock

    # The secret not readable by the caller: listed without its contents, reported as failed naming the
    # secret, nothing of it inserted; the clear workload comes in.
    listed = {w["id"]: w for w in api(path).importable(ADMIN)}
    assert listed[enc.workload.id]["encrypted"] and ref in listed[enc.workload.id]["error"]
    assert listed[enc.workload.id]["name"] == "" and listed[enc.workload.id]["snapshots"] == 2
    assert not listed[clear.workload.id]["encrypted"] and "error" not in listed[clear.workload.id]
    report = api(path).import_workloads(ADMIN, None)
    assert [e["id"] for e in report["imported"]] == [clear.workload.id]
    (failed,) = report["failed"]
    assert failed["id"] == enc.workload.id and ref in failed["error"] and "read ACL" in failed["error"]
    with pytest.raises(errors.NotFound):
        db.workload_get(enc.workload.id, None)
    assert db.snapshot_list(None, workload_id=enc.workload.id) == []
    assert kms.reads.count(ref) == 2  # once per call, however many of its documents were read

    # Readable (an ACL, or the admin of its project): imported with its snapshots and its secret.
    other_ref, other_payload = secret()
    other = write_workload(
        writer(path), "p-demo", "alice", "other", snapshots=1, secret=(other_ref, other_payload)
    )
    kms.readable[ref] = payload
    report = api(path).import_workloads(ADMIN, [enc.workload.id])
    assert other_ref not in kms.reads  # a workload not asked for: its secret is not read
    assert not db.workloads_in_database([other.workload.id])
    assert [(e["id"], len(e["snapshots"])) for e in report["imported"]] == [(enc.workload.id, 2)]
    assert report["failed"] == []
    row = db.workload_get(enc.workload.id, None)
    assert (row.name, row.project_id, row.encryption, row.secret_uuid) == ("sealed-name", "p-demo", True, ref)
    snaps = db.snapshot_list(None, workload_id=enc.workload.id)
    assert sorted(s.name for s in snaps) == ["sealed-name-snap-0", "sealed-name-snap-1"]
    assert all(v.disks and v.disks[0]["ref"] for s in snaps for v in s.vms)


def test_the_key_object_names_the_secret_after_a_rotation(t4o_conf: Any, path: Path, kms: Barbican) -> None:
    (old, old_payload), (new, new_payload) = secret(), secret()
    repo = writer(path)
    enc = write_workload(repo, "p-demo", "alice", "rotated", snapshots=1, secret=(old, old_payload))
    repo.rewrap_workload_key(enc.workload.id, old_payload, new, new_payload)  # the documents still say old
    kms.readable[new] = new_payload
    report = api(path).import_workloads(ADMIN, None)
    assert [e["id"] for e in report["imported"]] == [enc.workload.id]
    assert db.workload_get(enc.workload.id, None).secret_uuid == new
    assert old not in kms.reads


def test_a_secret_that_does_not_unwrap_the_key_or_a_missing_key(
    t4o_conf: Any, path: Path, kms: Barbican
) -> None:
    ref, payload = secret()
    enc = write_workload(writer(path), "p-demo", "alice", "wrong", snapshots=1, secret=(ref, payload))
    kms.readable[ref] = os.urandom(32)  # the secret's payload changed since
    (failed,) = api(path).import_workloads(ADMIN, None)["failed"]
    assert ref in failed["error"] and "does not unlock its key" in failed["error"]
    (path / "keys" / enc.workload.id).unlink()
    (failed,) = api(path).import_workloads(ADMIN, None)["failed"]
    assert f"keys/{enc.workload.id} is missing" in failed["error"]
    assert db.workload_list(None) == []


def test_an_unreadable_encrypted_workload_is_not_moved_or_listed_as_orphan(
    t4o_conf: Any, path: Path, kms: Barbican
) -> None:
    ref, payload = secret()
    enc = write_workload(writer(path), "p-gone", "alice", "moved", snapshots=1, secret=(ref, payload))
    assert api(path).orphans(ADMIN) == []  # its project is sealed with its key
    assert [w["id"] for w in api(path).orphans(ADMIN, migrate_cloud=True)] == [enc.workload.id]
    with pytest.raises(errors.BadRequest, match=ref):
        api(path).reassign(ADMIN, [enc.workload.id], "p-new", "bob")
    assert db.workload_list(None) == []
    kms.readable[ref] = payload
    assert [w["id"] for w in api(path).orphans(ADMIN)] == [enc.workload.id]
    (moved,) = api(path).reassign(ADMIN, [enc.workload.id], "p-new", "bob")
    assert moved["old_project_id"] == "p-gone"
    row = db.workload_get(enc.workload.id, None)
    assert (row.project_id, row.secret_uuid) == ("p-new", ref)
    # The moved document stays sealed with the workload's key.
    assert b"p-new" not in (path / "workloads" / f"{enc.workload.id}.json").read_bytes()
    fresh = writer(path)
    fresh.unlock_workload(enc.workload.id, payload)
    assert fresh.get_workload(enc.workload.id)["project_id"] == "p-new"
