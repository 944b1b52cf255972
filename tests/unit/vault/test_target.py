"""Opening the backup target: the same checks and messages for every service."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from oslo_config import cfg

from t4o.vault import (
    TargetUnavailable,
    mount_point_of,
    open_configured_target,
    open_spec,
    open_target,
    register_opts,
    target_spec,
)


def test_a_target_without_a_vault_is_refused_not_created(tmp_path: Path) -> None:
    target = tmp_path / "mnt"
    target.mkdir()  # what an unmounted share's mount point looks like
    with pytest.raises(TargetUnavailable, match=r"holds no vault.*t4o-vault init"):
        open_target(str(target))
    assert list(target.iterdir()) == []
    repo = open_target(str(target), create_if_missing=True)
    assert (target / "config").is_file()
    assert open_target(str(target)).config["id"] == repo.config["id"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(TargetUnavailable, match="is unavailable"):
        open_target(str(tmp_path / "file"))


def test_require_mount_refuses_a_target_on_the_root_filesystem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "share" / "vault"
    open_target(str(target), create_if_missing=True)
    mounts = {"/"}
    monkeypatch.setattr(os.path, "ismount", lambda p: str(p) in mounts)
    assert mount_point_of(str(target)) == "/"
    with pytest.raises(TargetUnavailable, match="not on a mounted filesystem"):
        open_target(str(target), require_mount=True)
    with pytest.raises(TargetUnavailable, match="not on a mounted filesystem"):
        open_spec({"url": str(target), "password": None, "require_mount": True})
    mounts.add(str(tmp_path / "share"))  # the share is mounted
    assert mount_point_of(str(target)) == str(tmp_path / "share")
    open_target(str(target), require_mount=True)
    open_target(str(target), require_mount=False)


def test_the_configured_target_is_created_only_when_a_snapshot_may_create_it(tmp_path: Path) -> None:
    conf = cfg.ConfigOpts()
    conf([], project="t4o-test", default_config_files=[])
    register_opts(conf)
    target = tmp_path / "vault"
    conf.set_override("url", str(target), group="backup_target")
    with pytest.raises(TargetUnavailable, match="create_if_missing = true"):
        open_configured_target(conf, create=True)
    conf.set_override("create_if_missing", True, group="backup_target")
    with pytest.raises(TargetUnavailable, match="holds no vault"):
        open_configured_target(conf)  # retention, restores and agents never create it
    repo = open_configured_target(conf, create=True)
    assert (target / "config").is_file()
    spec = target_spec(conf)
    assert spec == {"url": str(target), "password": None, "require_mount": False}
    assert open_spec(spec).config["id"] == repo.config["id"]
    conf.set_override("url", "", group="backup_target")
    with pytest.raises(TargetUnavailable, match=r"set \[backup_target\] url"):
        open_configured_target(conf)
