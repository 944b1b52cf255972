"""Snapshot mount commands, module by module: their arguments, the devices column, the client's calls."""

from __future__ import annotations

import argparse
from typing import Any
from unittest import mock

import pytest

from t4o.cli import mounts
from t4o.client.mounts import MountManager


def _parse(cls: type, argv: list[str]) -> argparse.Namespace:
    return cls(mock.Mock(), mock.Mock()).get_parser("x").parse_args(argv)


def test_arguments() -> None:
    args = _parse(mounts.MountSnapshot, ["snap", "0fbe8efd-vm"])
    assert (args.snapshot, args.mount_vm_id) == ("snap", "0fbe8efd-vm")
    with pytest.raises(SystemExit):  # the recovery VM is required, as in Trilio's snapshot-mount
        _parse(mounts.MountSnapshot, ["snap"])
    assert _parse(mounts.DismountSnapshot, ["snap"]).snapshot == "snap"


def test_devices_column() -> None:
    mount = {
        "disks": [
            {"vm_id": "a", "disk": "vda", "device": "vdb", "serial": "vda-1a2b3c4d"},
            {"vm_id": "b", "disk": "vda", "device": None, "serial": "vda-1a2b3c4d-1"},
        ]
    }
    assert mounts.devices(mount) == "vda -> vdb (vda-1a2b3c4d), vda -> ? (vda-1a2b3c4d-1)"
    assert mounts.devices({"disks": []}) == ""


def test_client_calls() -> None:
    http: Any = mock.Mock()
    http.post.return_value = {"mount": {"id": "m1", "status": "mounted"}}
    http.get.return_value = {"mounted_snapshots": [{"id": "m1"}]}
    manager = MountManager(http)
    assert manager.mount("s/1", "vm").status == "mounted"
    http.post.assert_called_with("/snapshots/s%2F1/mount", {"mount": {"mount_vm_id": "vm", "options": {}}})
    manager.dismount("s1")
    http.post.assert_called_with("/snapshots/s1/dismount", {"mount": {}})
    assert [m.id for m in manager.list()] == ["m1"]
    http.get.assert_called_with("/snapshots/mounted/list")
