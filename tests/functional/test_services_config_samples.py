"""etc/t4o samples are what oslo-config-generator and oslopolicy-sample-generator produce today."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.fixtures.control_plane import VENV_BIN

ROOT = Path(__file__).resolve().parents[2]


def generate(tool: str, config: str, out: Path) -> str:
    run = subprocess.run(
        [str(VENV_BIN / tool), "--config-file", str(ROOT / "etc/t4o" / config), "--output-file", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return out.read_text()


def test_config_sample_is_current(tmp_path: Path) -> None:
    text = generate("oslo-config-generator", "t4o-config-generator.conf", tmp_path / "t4o.conf")
    assert text == (ROOT / "etc/t4o/t4o.conf.sample").read_text()
    for section in (
        "[api]",
        "[database]",
        "[keystone_authtoken]",
        "[oslo_messaging_rabbit]",
        "[oslo_policy]",
    ):
        assert section in text


def test_policy_sample_is_current(tmp_path: Path) -> None:
    text = generate("oslopolicy-sample-generator", "t4o-policy-generator.conf", tmp_path / "policy.yaml")
    assert text == (ROOT / "etc/t4o/policy.yaml.sample").read_text()
    assert '#"global_job_scheduler:set": "rule:admin_api"' in text
