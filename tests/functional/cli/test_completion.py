"""Shell completion as bash runs it: the scripts of `openstack complete` and `workloadmgr completion bash`
sourced with bash-completion, then asked to complete partial command lines."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.control_plane import missing_server
from tests.functional.cli.conftest import Cli

BASH_COMPLETION = Path("/usr/share/bash-completion/bash_completion")


def complete(script: Path, function: str, words: list[str]) -> list[str]:
    line = " ".join(words)
    program = (
        f"source {BASH_COMPLETION}; source {shlex.quote(str(script))}; "
        f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)}); COMP_CWORD={len(words) - 1}; "
        f"COMP_LINE={shlex.quote(line)}; COMP_POINT={len(line)}; {function}; "
        "printf '%s\\n' \"${COMPREPLY[@]}\""
    )
    proc = subprocess.run(
        ["bash", "--norc", "-c", program], capture_output=True, text=True, timeout=30, check=True
    )
    return sorted(proc.stdout.split())


@pytest.fixture
def bash_completion() -> None:
    if not BASH_COMPLETION.exists():
        missing_server("bash-completion is not installed (scripts/bootstrap installs it)")


def test_workloadmgr_completion_bash(cli: Cli, tmp_path: Path, bash_completion: None) -> None:
    script = tmp_path / "workloadmgr.bash"
    script.write_text(cli.ok("completion", "bash", tool="workloadmgr", auth=False))
    assert complete(script, "_workloadmgr", ["workloadmgr", "snapshot-in"]) == ["snapshot-inplace-restore"]
    assert complete(script, "_workloadmgr", ["workloadmgr", "snapshot-selective-restore", "--fil"]) == [
        "--file",
        "--filename",
    ]
    assert "workload-snapshot" in complete(script, "_workloadmgr", ["workloadmgr", "workload-s"])
    assert "--full" in complete(script, "_workloadmgr", ["workloadmgr", "workload-snapshot", "--f"])
    assert complete(script, "_workloadmgr", ["workloadmgr", "project-allowed-quota-c"]) == [
        "project-allowed-quota-create"
    ]
    assert complete(script, "_workloadmgr", ["workloadmgr", "policy-assign", "--add"]) == [
        "--add-project",
        "--add_project",
    ]


def test_openstack_complete_has_the_plugin(cli: Cli, tmp_path: Path, bash_completion: None) -> None:
    script = tmp_path / "openstack.bash"
    script.write_text(cli.ok("complete", auth=False))
    assert complete(script, "_openstack", ["openstack", "workload", "restore", "c"]) == ["cancel", "create"]
    assert complete(script, "_openstack", ["openstack", "workload", "snapshot", "--wa"]) == ["--wait"]
    assert complete(script, "_openstack", ["openstack", "workload", "sched"]) == ["scheduler"]
    assert complete(script, "_openstack", ["openstack", "workload", "policy", "a"]) == ["assign"]
    assert complete(script, "_openstack", ["openstack", "workload", "quota", "r"]) == ["reset"]
    assert complete(script, "_openstack", ["openstack", "workload", "quota", "set", "--st"]) == ["--storage"]
