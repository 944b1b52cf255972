"""Two workloads on two backup targets side by side: a posix directory and a SeaweedFS S3 bucket with its
own keys (none in the environment). Each workload's disk goes through the target resolution
(t4o.workloads.targets) and the vault's public calls, lands on its own target only, and is restored
from there, as the snapshot workflow, the agents and the restore workflow open it."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from t4o import vault
from t4o.common.context import RequestContext
from t4o.db import api as db
from t4o.vault import TargetHoldsNoVault, TargetUnavailable
from t4o.workloads import backup_targets, targets
from tests.fixtures.s3 import S3Bucket

SERIAL = "f82ce76f-17fe-438b-aa37-7a023058e50d"
MIB = 1024 * 1024


def new_workload(name: str, target_id: str) -> Any:
    values = {
        "project_id": "p1",
        "user_id": "u1",
        "name": name,
        "workload_type_id": SERIAL,
        "status": "available",
        "backup_target_id": backup_targets.choose_for_new_workload(target_id),
    }
    return db.workload_create(values, [{"vm_id": f"vm-{name}", "vm_name": name}])


def test_two_workloads_on_a_posix_and_an_s3_target(
    t4o_conf: Any, s3_bucket: S3Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)  # the S3 target's own keys must be what opens it
    t4o_conf.set_override("settings_key", "passphrase for the stored keys")
    targets.configured_target(t4o_conf)  # registers [backup_target]
    t4o_conf.set_override("url", str(tmp_path / "configured"), group="backup_target")
    t4o_conf.set_override("create_if_missing", True, group="backup_target")
    ctx = RequestContext(roles=["admin"], project_id="p1")
    server = s3_bucket.server

    local = backup_targets.create_target(
        ctx, {"name": "local", "type": "posix", "url": str(tmp_path / "posix-target")}
    )
    keys = {"access_key": server.access_key, "secret_key": server.secret_key}
    remote = backup_targets.create_target(
        ctx, {"name": "objects", "type": "s3", "url": s3_bucket.url, "credentials": keys, "is_default": True}
    )
    on_posix = new_workload("a", local["id"])
    on_s3 = new_workload("b", "")  # names none: the default, the S3 target
    assert (on_posix.backup_target_id, on_s3.backup_target_id) == (local["id"], remote["id"])

    # The spec carried to the agents says which target, with the S3 keys for the S3 one only.
    posix_spec = targets.spec_for_workload(on_posix.id)
    s3_spec = targets.spec_for_workload(on_s3.id)
    assert posix_spec["url"] == str(tmp_path / "posix-target") and "credentials" not in posix_spec
    assert s3_spec["url"] == s3_bucket.url and s3_spec["credentials"] == keys

    # A restore never creates a vault: the S3 target holds none yet.
    with pytest.raises(TargetHoldsNoVault, match="holds no vault"):
        targets.open_for_workload(on_s3.id)

    disks = {}
    for wl in (on_posix, on_s3):
        disk = tmp_path / f"{wl.name}.raw"
        disk.write_bytes(os.urandom(3 * MIB) + b"\0" * MIB)
        disks[wl.id] = disk
        repo = targets.open_for_workload(wl, create=True)  # as the snapshot workflow opens it
        try:
            repo.backup_disk(disk, "vda", snapshot_id=f"snap-{wl.name}", workload_id=wl.id)
            repo.put_snapshot_metadata(f"snap-{wl.name}", {"name": wl.name}, workload_id=wl.id)
        finally:
            repo.backend.close()

    # Each target holds its own workload's snapshot only.
    for wl, other in ((on_posix, on_s3), (on_s3, on_posix)):
        repo = vault.open_spec(targets.spec_for_workload(wl.id))  # as an agent opens it
        try:
            assert [s["snapshot_id"] for s in repo.list_snapshots(wl.id)] == [f"snap-{wl.name}"]
            assert repo.list_snapshots(other.id) == []
            out = tmp_path / f"{wl.name}-restored.raw"
            repo.restore_disk(f"snap-{wl.name}", out)
        finally:
            repo.backend.close()
        assert out.read_bytes() == disks[wl.id].read_bytes()
    assert not (tmp_path / "configured").exists()  # the configured target was never used
    client = server.client()
    try:
        assert client.list_objects_v2(Bucket=s3_bucket.name).get("KeyCount", 0) > 0
    finally:
        client.close()

    # Wrong keys: a clear error naming the target, not a stack trace.
    backup_targets.update_target(ctx, remote["id"], {"credentials": {"access_key": "x", "secret_key": "y"}})
    expected = re.escape(f"the backup target {s3_bucket.url} is unavailable") + ".*credentials were rejected"
    with pytest.raises(TargetUnavailable, match=expected):
        targets.open_for_workload(on_s3.id)
