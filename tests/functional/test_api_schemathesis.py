"""Schemathesis against the OpenAPI document served by a real all-in-one process: no 5xx, ever."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from t4o.api import spec
from tests.fixtures.control_plane import VENV_BIN, ControlPlane


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    # No servers file: any UUID is an instance of the caller's project, so generated workloads are
    # accepted and the stateful phase reaches snapshots and restores through the document's links.
    cp = ControlPlane(tmp_path_factory.mktemp("fuzz"), {"stub_cloud": {"servers_file": None}})
    try:
        cp.start_all_in_one()
        yield cp
    finally:
        cp.stop()


def test_no_server_errors(fuzz_target: ControlPlane) -> None:
    cp = fuzz_target
    report = cp.workdir / "schemathesis.xml"
    run = subprocess.run(
        [
            str(VENV_BIN / "schemathesis"), "run", f"{cp.url}/openapi.json", "--url", cp.url,
            "--checks", "not_a_server_error", "--max-examples", "30", "--seed", "20261126",
            "--generation-database", "none", "--no-color",
            "--report", "junit", "--report-junit-path", str(report),
        ],
        capture_output=True, text=True, timeout=540, check=False, cwd=cp.workdir,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-6000:]
    # Every operation of the document was exercised, however many the API grows to.
    assert f"Tested: {len(spec.OPERATIONS)}" in run.stdout, run.stdout[-3000:]
    log = cp.log("all-in-one")
    assert " status: 500" not in log and "Traceback" not in log, log[-4000:]
