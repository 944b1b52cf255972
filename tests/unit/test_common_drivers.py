"""t4o.common.drivers: an option names exactly one installed entry point, or the service does not start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from t4o.common import drivers
from t4o.openstack.nova import NovaCloud


def install(site: Path, dist: str, group: str, entries: dict[str, str]) -> None:
    """A distribution of entry points only, found by importlib.metadata once ``site`` is on sys.path."""
    info = site / f"{dist}-1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1\n")
    lines = "".join(f"{name} = {ref}\n" for name, ref in entries.items())
    (info / "entry_points.txt").write_text(f"[{group}]\n{lines}")


def test_the_product_installs_its_drivers(t4o_conf: Any) -> None:
    assert drivers.load(drivers.CLOUDS, "nova", "cloud_driver") is NovaCloud
    drivers.check(t4o_conf)  # the defaults: nova, datamover


def test_a_name_registered_twice_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install(tmp_path, "other_clouds", drivers.CLOUDS, {"nova": "other.clouds:Nova", "mine": "other:Mine"})
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(
        drivers.DriverNotFound, match=r"cloud_driver = nova: .* registered by other_clouds, t4o"
    ):
        drivers.find(drivers.CLOUDS, "nova", "cloud_driver = nova")
    assert drivers.find(drivers.CLOUDS, "mine", "cloud_driver = mine").value == "other:Mine"


def test_a_missing_name_lists_what_is_installed(t4o_conf: Any) -> None:
    t4o_conf.set_override("workflow_driver", "stub")  # the tests' stubs, not installed in this process
    with pytest.raises(drivers.DriverNotFound) as raised:
        drivers.check(t4o_conf)
    assert str(raised.value) == (
        "workflow_driver = stub: no entry point stub.snapshot in t4o.workflows "
        "(installed: datamover.restore, datamover.snapshot)"
    )
