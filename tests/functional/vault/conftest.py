"""Fixtures of the vault functional tests: real disk images built with real tools."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
CHILD = HERE / "vault_child.py"
MiB = 1 << 20


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed: run scripts/bootstrap")
    return path


def write_disk(path: Path, mib: int, seed: int = 0, zero_every: int = 4) -> Path:
    """A raw disk of random MiB blocks with every ``zero_every``-th block left as a hole."""
    import random

    rnd = random.Random(seed)
    with open(path, "wb") as f:
        f.truncate(mib * MiB)
        for i in range(mib):
            if zero_every and i % zero_every == 1:
                continue
            f.seek(i * MiB)
            f.write(rnd.randbytes(MiB))
    return path


def run_child(*args: str, check: bool = True, **kw) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, str(CHILD), *args], capture_output=True, text=True, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"child failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc


def start_child(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(CHILD), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def vault_cli(*args: str, check: bool = False, **kw) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "t4o-vault"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "t4o.vault.cli"]
    env = {**kw.pop("env", os.environ), "PYTHONPATH": str(ROOT)}
    if "stderr" in kw:
        proc = subprocess.run([*cmd, *args], stdout=subprocess.PIPE, text=True, env=env, **kw)
    else:
        proc = subprocess.run([*cmd, *args], capture_output=True, text=True, env=env, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"t4o-vault {' '.join(args)} failed: {proc.stderr}")
    return proc
