"""A backup target's capacity: a directory's filesystem figures, null with a reason for S3, a missing
directory, an NFS export that is not mounted or a filesystem that does not answer, and one stuck probe at
most per path."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg

from t4o.vault import register_opts
from t4o.workloads import target_capacity, targets
from t4o.workloads.flows.config import TARGETS_OPTS
from t4o.workloads.targets import Target


def _conf(url: str, require_mount: bool = False, nfs_base: str = "/nonexistent") -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    register_opts(conf)
    conf.register_opts(TARGETS_OPTS, group="backup_targets")
    conf([], project="t4o-test", default_config_files=[])
    conf.set_override("url", url, group="backup_target")
    conf.set_override("require_mount", require_mount, group="backup_target")
    conf.set_override("nfs_mount_point_base", nfs_base, group="backup_targets")
    return conf


def _configured(stored: int, conf: cfg.ConfigOpts, timeout: float = 5.0) -> dict[str, Any]:
    """The entry of the configured target, as every_target makes it."""
    url = conf.backup_target.url
    kind = "s3" if url.startswith("s3://") else "posix"
    target = Target("config", "configured", kind, url, is_default=True, read_only=True)
    return target_capacity.capacity(target, stored, conf=conf, timeout=timeout)


def test_directory_reports_its_filesystem(tmp_path: Path) -> None:
    found = _configured(1234, _conf(str(tmp_path)))
    st = os.statvfs(tmp_path)
    assert found["type"] == "posix" and found["url"] == str(tmp_path) and found["reason"] is None
    assert found["total_bytes"] == st.f_blocks * st.f_frsize
    assert 0 < found["free_bytes"] <= found["total_bytes"]
    assert found["used_bytes"] == (st.f_blocks - st.f_bfree) * st.f_frsize
    assert found["stored_bytes"] == 1234
    assert found["mount_point"] == target_capacity.mount_point_of(str(tmp_path))


def test_file_url_is_a_directory(tmp_path: Path) -> None:
    found = _configured(0, _conf(f"file://{tmp_path}"))
    assert found["url"] == str(tmp_path) and found["total_bytes"] is not None


def test_s3_has_no_capacity_and_hides_credentials() -> None:
    found = _configured(5, _conf("s3://user:pw@bucket/prefix?endpoint=http://127.0.0.1:8333"))
    assert found["type"] == "s3" and found["url"] == "s3://bucket/prefix"
    assert (found["total_bytes"], found["free_bytes"], found["used_bytes"]) == (None, None, None)
    assert "S3" in found["reason"] and found["stored_bytes"] == 5


def test_defined_target_carries_its_id_name_and_counts(tmp_path: Path) -> None:
    target = Target("t-1", "fast", "posix", str(tmp_path))
    found = target_capacity.capacity(target, 77, snapshots=3, workloads=2, conf=_conf(""))
    assert (found["id"], found["name"], found["default"]) == ("t-1", "fast", False)
    assert (found["stored_bytes"], found["snapshots"], found["workload_count"]) == (77, 3, 2)
    assert found["total_bytes"] is not None and found["reason"] is None


def test_nfs_is_read_at_its_mount_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = _conf("", nfs_base=str(tmp_path))
    target = Target("t-2", "share", "nfs", "nfs://filer.example/export/t4o")
    where = targets.nfs_mount_point(target.url, conf)
    os.mkdir(where)
    # The empty mount point: the figures under it are another filesystem's, so none are given.
    found = target_capacity.capacity(target, 0, conf=conf)
    assert found["url"] == "nfs://filer.example/export/t4o" and found["total_bytes"] is None
    assert "filer.example:/export/t4o is not mounted at " + where in found["reason"]
    # Mounted there: the share's figures.
    monkeypatch.setattr(target_capacity, "mount_point_of", lambda path: where)
    found = target_capacity.capacity(target, 0, conf=conf)
    assert found["mount_point"] == where and found["reason"] is None
    assert found["total_bytes"] == os.statvfs(where).f_blocks * os.statvfs(where).f_frsize


def test_missing_directory_says_so(tmp_path: Path) -> None:
    found = _configured(0, _conf(str(tmp_path / "gone")))
    assert found["total_bytes"] is None and "does not exist" in found["reason"]


def test_require_mount_refuses_the_root_filesystem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(target_capacity, "mount_point_of", lambda path: "/")
    found = _configured(0, _conf(str(tmp_path), require_mount=True))
    assert found["total_bytes"] is None and "require_mount" in found["reason"]
    assert found["mount_point"] == "/"


@pytest.fixture
def hung_statvfs(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[threading.Event, list[str]]]:
    """os.statvfs blocks (as on a dead NFS server) until the event is set; the list records the calls."""
    release, calls = threading.Event(), []
    real = os.statvfs

    def statvfs(path: str) -> os.statvfs_result:
        calls.append(path)
        release.wait(30)
        return real(path)

    monkeypatch.setattr(target_capacity.os, "statvfs", statvfs)
    yield release, calls
    release.set()


def test_hung_filesystem_answers_in_time_with_one_probe(
    tmp_path: Path, hung_statvfs: tuple[threading.Event, list[str]]
) -> None:
    release, calls = hung_statvfs
    conf = _conf(str(tmp_path))
    started = time.monotonic()
    first = _configured(0, conf, timeout=0.2)
    assert time.monotonic() - started < 5
    assert first["total_bytes"] is None and "did not answer" in first["reason"]
    second = _configured(0, conf, timeout=0.2)
    assert "did not answer" in second["reason"]
    assert calls == [str(tmp_path)]  # the second request started no second stuck probe
    release.set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and target_capacity._hanging:
        time.sleep(0.01)
    assert _configured(0, conf)["total_bytes"] is not None
