import json
from unittest import mock

import pytest

from t4o.datamover.disks import qemu_img
from t4o.datamover.disks.errors import QemuToolError

MAP = [
    {"start": 0, "length": 65536, "depth": 0, "present": True, "zero": False, "data": True},
    {"start": 65536, "length": 65536, "depth": 1, "present": True, "zero": False, "data": True},
    {"start": 131072, "length": 1048576, "depth": 0, "present": False, "zero": True, "data": False},
    {"start": 1179648, "length": 65536, "depth": 0, "present": True, "zero": True, "data": False},
    {"start": 1245184, "length": 4096, "depth": 0, "present": True, "zero": False, "data": True},
]


def test_allocated_extents_merge_and_skip_zeros() -> None:
    with mock.patch.object(qemu_img, "_run", return_value=json.dumps(MAP)):
        assert qemu_img.allocated_extents("x", "qcow2") == [(0, 131072), (1245184, 4096)]


def test_failures_carry_stderr() -> None:
    done = mock.Mock(returncode=1, stderr="Could not open 'x': No such file", stdout="")
    with mock.patch("subprocess.run", return_value=done), pytest.raises(QemuToolError, match="No such file"):
        qemu_img.info("x")


def test_create_refuses_unknown_formats() -> None:
    with pytest.raises(QemuToolError, match="vmdk"):
        qemu_img.create("x", "vmdk", 1)
