"""Restore options from files (JSON/YAML, three shapes) and flags."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from t4o.cli import restore_options


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name")
    parser.add_argument("--description")
    restore_options.add_flags(parser)
    return parser.parse_args(list(argv))


def test_file_shapes(tmp_path: Path) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text("restore_type: selective\nopenstack:\n  instances: [{id: a}]\n")
    assert restore_options.load_file(str(plain)) == {
        "name": None,
        "description": None,
        "options": {"restore_type": "selective", "openstack": {"instances": [{"id": "a"}]}},
    }
    wrapped = tmp_path / "body.json"
    wrapped.write_text(json.dumps({"restore": {"name": "n", "description": "d", "options": {"zone": "z"}}}))
    assert restore_options.load_file(str(wrapped)) == {
        "name": "n",
        "description": "d",
        "options": {"zone": "z"},
    }


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Cannot read the restore file"):
        restore_options.load_file(str(tmp_path / "missing.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1,\n")
    with pytest.raises(ValueError, match=r"not valid JSON or YAML \(line \d+, column \d+\)"):
        restore_options.load_file(str(bad))
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just text\n")
    with pytest.raises(ValueError, match="must hold a mapping"):
        restore_options.load_file(str(scalar))


def test_flags_add_to_the_file(tmp_path: Path) -> None:
    f = tmp_path / "r.yaml"
    f.write_text("openstack:\n  instances:\n    - {id: vm1, include: true}\n    - {id: vm2, include: true}\n")
    args = parse(
        "--file",
        str(f),
        "--exclude-instance",
        "vm2",
        "--instance",
        "vm3",
        "--instance-name",
        "vm1=new",
        "--network-map",
        "n1=n2",
        "--restore-topology",
        "--zone",
        "az1",
        "--name",
        "x",
    )
    spec = restore_options.build(args, "selective")
    assert spec["name"] == "x"
    opts = spec["options"]
    assert opts["zone"] == "az1"
    assert opts["openstack"]["instances"] == [
        {"id": "vm1", "include": True, "name": "new"},
        {"id": "vm2", "include": False},
        {"id": "vm3", "include": True},
    ]
    assert opts["openstack"]["networks_mapping"] == {
        "networks": [{"snapshot_network": {"id": "n1"}, "target_network": {"id": "n2"}}]
    }
    assert opts["openstack"]["restore_topology"] is True


def test_selective_and_inplace_need_vms(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="selective restore needs the VMs"):
        restore_options.build(parse(), "selective")
    with pytest.raises(ValueError, match="inplace restore needs the VMs"):
        restore_options.build(parse("--zone", "z"), "inplace")
    assert restore_options.build(parse(), "oneclick")["options"] == {}


def test_file_type_must_match(tmp_path: Path) -> None:
    f = tmp_path / "r.json"
    f.write_text(json.dumps({"restore_type": "inplace", "openstack": {"instances": [{"id": "a"}]}}))
    with pytest.raises(ValueError, match="asks for a inplace restore, not selective"):
        restore_options.build(parse("--file", str(f)), "selective")


def test_per_vm_flavor_and_per_volume_flags() -> None:
    args = parse(
        "--instance-flavor", "vm1=m1.small",
        "--exclude-volume", "vm1=v1",
        "--volume-type", "vm1=v2:fast",
        "--volume-type", "vm2=v3:__DEFAULT__",
        "--exclude-volume", "vm2=v3",
    )  # fmt: skip
    instances = restore_options.build(args, "selective")["options"]["openstack"]["instances"]
    assert instances == [
        {"id": "vm1", "include": True, "flavor": {"id": "m1.small"},
         "vdisks": [{"id": "v1", "include": False}, {"id": "v2", "new_volume_type": "fast"}]},
        {"id": "vm2", "include": True,
         "vdisks": [{"id": "v3", "new_volume_type": "__DEFAULT__", "include": False}]},
    ]  # fmt: skip
    with pytest.raises(SystemExit):
        parse("--volume-type", "vm1=v2")
