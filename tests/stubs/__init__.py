"""Stand-ins for the cloud and the job workflows, for control-plane tests without OpenStack.

They are installed by entry points, as real drivers are: ``cloud_driver = stub`` and ``workflow_driver =
stub`` (see ``entry_points()`` and ``tests.fixtures.control_plane``, which registers them for the services
it starts). In-process tests import the modules directly.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DIST = "t4o-test-stubs"
DRIVER = "stub"


def entry_points() -> dict[str, dict[str, str]]:
    """The entry points of the stubs' distribution: group -> name -> object reference."""
    return {
        "t4o.clouds": {DRIVER: "tests.stubs.stub_cloud:StubCloud"},
        "t4o.workflows": {
            f"{DRIVER}.snapshot": "tests.stubs.stub_workflows:snapshot",
            f"{DRIVER}.restore": "tests.stubs.stub_workflows:restore",
        },
    }


def install(site: Path) -> str:
    """Register the stubs for the processes started with the returned PYTHONPATH: the distribution's
    ``dist-info`` written into ``site`` (importlib.metadata finds its entry points there) and the project
    root (where ``tests.stubs`` is imported from), before any PYTHONPATH already set."""
    info = site / f"{DIST.replace('-', '_')}-0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {DIST}\nVersion: 0\n")
    (info / "entry_points.txt").write_text(
        "".join(
            f"[{group}]\n" + "".join(f"{name} = {ref}\n" for name, ref in names.items()) + "\n"
            for group, names in entry_points().items()
        )
    )
    inherited = os.environ.get("PYTHONPATH")
    return os.pathsep.join([str(site), str(ROOT), *([inherited] if inherited else [])])
