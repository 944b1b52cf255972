"""The test command's own rule (conftest.py): a skipped test is a test that did not run, so a run with a
skip fails and names it with its reason, unless the run was asked to be partial (--allow-skips)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SUITE = """
import pytest

def test_runs():
    pass

def test_needs_a_server():
    pytest.skip("no such server here")
"""


def run_pytest(tmp_path: Path, suite: str, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest with this project's conftest.py as a plugin, on a suite of its own in ``tmp_path``."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_suite.py").write_text(suite)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider", str(tmp_path), *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_skip_fails_the_run_and_is_named_with_its_reason(tmp_path: Path) -> None:
    run = run_pytest(tmp_path, SUITE)
    assert run.returncode == 1, run.stdout
    assert "1 passed, 1 skipped" in run.stdout
    assert "1 skipped, so this run FAILS" in run.stdout
    assert "SKIPPED test_suite.py::test_needs_a_server: no such server here" in run.stdout


def test_a_partial_run_allows_skips(tmp_path: Path) -> None:
    run = run_pytest(tmp_path, SUITE, "--allow-skips")
    assert run.returncode == 0, run.stdout
    assert "1 passed, 1 skipped" in run.stdout and "FAILS" not in run.stdout


def test_a_module_skipped_at_import_fails_the_run(tmp_path: Path) -> None:
    run = run_pytest(tmp_path, 'import pytest\npytest.skip("no driver", allow_module_level=True)\n')
    assert run.returncode == 1, run.stdout
    assert "SKIPPED test_suite.py: no driver" in run.stdout


def test_a_run_without_skips_passes(tmp_path: Path) -> None:
    run = run_pytest(tmp_path, "def test_runs():\n    pass\n")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout and "FAILS" not in run.stdout
