"""`t4o-vault init` on S3 (a real SeaweedFS): it creates a missing bucket, with object lock if asked."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from tests.fixtures.s3 import S3Bucket, S3Server
from tests.functional.vault.conftest import vault_cli, write_disk


def _env(server: S3Server) -> dict[str, str]:
    return {
        **os.environ,
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "T4O_VAULT_PASSWORD": "secret",
    }


def test_init_creates_a_missing_bucket_and_the_repository_works(s3_server: S3Server, tmp_path: Path) -> None:
    name = f"t4o-cli-{uuid.uuid4().hex[:12]}"
    url = f"s3://{name}/repo?endpoint={s3_server.endpoint}"
    env = _env(s3_server)
    # Any other command refuses a missing bucket: a typo must not create one.
    out = vault_cli("--repo", url, "info", env=env)
    assert out.returncode == 1 and f"bucket '{name}' does not exist" in out.stderr, out.stderr
    out = vault_cli("--repo", url, "init", env=env)
    assert out.returncode == 0, out.stderr
    assert "created repository" in out.stdout
    listing = s3_server.client().list_objects_v2(Bucket=name, Prefix="repo/")
    assert any(o["Key"] == "repo/config" for o in listing["Contents"])
    disk = write_disk(tmp_path / "disk.raw", 2)
    vault_cli("--repo", url, "backup", str(disk), "--disk", "vda", "--snapshot", "s1", env=env, check=True)
    vault_cli("--repo", url, "restore", "s1/vda", str(tmp_path / "back.raw"), env=env, check=True)
    assert (tmp_path / "back.raw").read_bytes() == disk.read_bytes()


def test_init_with_object_lock_creates_a_locked_bucket(s3_server: S3Server, tmp_path: Path) -> None:
    name = f"t4o-cli-lock-{uuid.uuid4().hex[:12]}"
    url = f"s3://{name}?endpoint={s3_server.endpoint}"
    out = vault_cli("--repo", url, "init", "--object-lock", env=_env(s3_server))
    assert out.returncode == 0, out.stderr
    config = s3_server.client().get_object_lock_configuration(Bucket=name)
    assert config["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"


def test_init_object_lock_on_a_plain_bucket_or_a_directory_is_a_one_line_error(
    s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    env = _env(s3_bucket.server)
    out = vault_cli("--repo", s3_bucket.url, "init", "--object-lock", env=env)
    assert out.returncode == 1 and "exists without object lock" in out.stderr, out.stderr
    assert out.stderr.count("\n") == 1, out.stderr
    out = vault_cli("--repo", str(tmp_path / "repo"), "init", "--object-lock", env=env)
    assert out.returncode == 1 and "object lock needs an S3 bucket" in out.stderr, out.stderr
    assert out.stderr.count("\n") == 1, out.stderr
