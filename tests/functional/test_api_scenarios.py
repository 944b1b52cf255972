"""API scenarios that read like the API reference, one YAML file per resource in api_scenarios/, run by
gabbi over HTTP against a real ``t4o all-in-one`` (stub cloud and workflows).

Each file runs in a project of its own (the URL prefix ``/v1/<project>``); the YAML reads its tokens and
servers from the environment: ``$ENVIRON['API']`` (the API's root URL, for paths outside the
project), ``$ENVIRON['MEMBER']``, ``$ENVIRON['ADMIN']``, ``$ENVIRON['PROJECT']``,
``$ENVIRON['OTHER_PROJECT']`` and ``$ENVIRON['SERVER_1']`` .. ``$ENVIRON['SERVER_3']`` (servers of the
project in the stub cloud).
"""

from __future__ import annotations

import io
import shutil
import unittest
import uuid
from pathlib import Path

import pytest
from gabbi import driver

from tests.fixtures.control_plane import ControlPlane, admin, member

SCENARIOS = sorted((Path(__file__).parent / "api_scenarios").glob("*.yaml"))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario(
    all_in_one: ControlPlane, scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, other = "p" + uuid.uuid4().hex[:12], "p" + uuid.uuid4().hex[:12]
    env = {
        "API": all_in_one.url,
        "PROJECT": project,
        "OTHER_PROJECT": other,
        "MEMBER": member(project),
        "ADMIN": admin(project),
    }
    for i, server in enumerate(all_in_one.add_servers(project, 3), start=1):
        env[f"SERVER_{i}"] = server
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # gabbi loads every YAML file of a directory: give it this scenario alone.
    (tmp_path / "scenario").mkdir()
    shutil.copy(scenario, tmp_path / "scenario" / scenario.name)
    suite = driver.build_tests(
        str(tmp_path / "scenario"), unittest.TestLoader(), host="127.0.0.1", port=all_in_one.port,
        prefix=f"/v1/{project}", test_loader_name=__name__,
    )  # fmt: skip
    out = io.StringIO()
    result = unittest.TextTestRunner(stream=out, verbosity=2).run(suite)
    assert result.testsRun > 0 and not result.skipped, out.getvalue()
    assert result.wasSuccessful(), out.getvalue()
