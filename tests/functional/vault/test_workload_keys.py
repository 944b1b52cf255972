"""A workload with a key of its own, through the ``t4o-vault`` command in separate processes: a qcow2 disk
backed up, restored by a process that only has the secret, the secret rotated without rewriting data,
and nothing on the target that gives the key, the secret or the VM records away."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from .conftest import MiB, need, vault_cli, write_disk

MARK = "instance-definition-5c1e"  # what a VM record holds; must never be stored in clear
REF = "http://127.0.0.1:9311/v1/secrets/0b7c7d5e-9b43-4b8e-8d8e-3f2f0c1a2b3c"
NEW_REF = "http://127.0.0.1:9311/v1/secrets/6f1d7c39-18a4-4d1f-9c61-1c3a47d1d0aa"


def _target_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_a_workload_key_through_the_command_line(tmp_path: Path) -> None:
    need("qemu-img")
    repo = tmp_path / "vault"
    raw = write_disk(tmp_path / "disk.raw", 6, seed=17)
    model = raw.read_bytes()
    qcow = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", str(raw), str(qcow)], check=True)
    secret, new_secret = tmp_path / "secret", tmp_path / "new-secret"
    secret.write_bytes(os.urandom(32))
    new_secret.write_bytes(os.urandom(32))
    wl = "wl-barbican"
    unlock = ["--workload-secret", f"{wl}={secret}"]

    vault_cli("--repo", str(repo), "init", "--chunk-size", str(MiB), check=True)
    vault_cli("--repo", str(repo), *unlock, "key", "create", wl, "--secret-ref", REF, check=True)
    out = vault_cli(
        "--repo", str(repo), *unlock, "backup", str(qcow), "--disk", "vda", "--snapshot", "s1",
        "--workload", wl, "--metadata", json.dumps({"definition": MARK}), check=True,
    ).stdout  # fmt: skip
    assert "snapshot s1/vda" in out
    # The same disk in an unencrypted workload shares nothing with it.
    vault_cli(
        "--repo", str(repo), "backup", str(raw), "--disk", "vda", "--snapshot", "p1", "--workload", "plain",
        check=True,
    )  # fmt: skip

    manifest = json.loads((repo / "snapshots/s1/disks/vda.json").read_text())
    assert manifest["encrypted"] and manifest["keys"] == "workload"
    assert not set(b for b in manifest["blocks"] if b) & {
        b for b in json.loads((repo / "snapshots/p1/disks/vda.json").read_text())["blocks"] if b
    }

    # Without the secret: a clear error naming the secret that unlocks it, and nothing written.
    denied = vault_cli("--repo", str(repo), "restore", "s1/vda", str(tmp_path / "no"))
    assert denied.returncode == 1 and f"unlock it with its secret {REF}" in denied.stderr
    assert not (tmp_path / "no").exists()
    wrong = vault_cli(
        "--repo",
        str(repo),
        "--workload-secret",
        f"{wl}={new_secret}",
        "restore",
        "s1/vda",
        str(tmp_path / "no"),
    )
    assert wrong.returncode == 1 and f"wrapped by secret {REF}" in wrong.stderr

    vault_cli("--repo", str(repo), *unlock, "restore", "s1/vda", str(tmp_path / "r1"), check=True)
    assert (tmp_path / "r1").read_bytes() == model

    # Rotation: the key object changes, nothing else does; the old secret stops working.
    data_before = {
        str(p.relative_to(repo)): p.read_bytes()
        for p in repo.rglob("*")
        if p.is_file() and not str(p.relative_to(repo)).startswith(("keys/", "locks/"))
    }
    vault_cli(
        "--repo", str(repo), *unlock, "key", "rotate", wl, "--secret-ref", NEW_REF,
        "--new-secret-file", str(new_secret), check=True,
    )  # fmt: skip
    for key, data in data_before.items():
        assert (repo / key).read_bytes() == data, key
    shown = json.loads(vault_cli("--repo", str(repo), "--json", "key", "show", wl, check=True).stdout)
    assert shown["secret_ref"] == NEW_REF and shown["rewrapped"]
    old = vault_cli("--repo", str(repo), *unlock, "restore", "s1/vda", str(tmp_path / "no"))
    assert old.returncode == 1 and f"wrapped by secret {NEW_REF}" in old.stderr
    new_unlock = ["--workload-secret", f"{wl}={new_secret}"]
    vault_cli("--repo", str(repo), *new_unlock, "restore", "s1/vda", str(tmp_path / "r2"), check=True)
    assert (tmp_path / "r2").read_bytes() == model
    verify = vault_cli("--repo", str(repo), *new_unlock, "verify", "--read-data", check=True).stdout
    assert verify.strip().endswith("OK")

    stored = _target_bytes(repo)
    assert MARK.encode() not in stored
    for s in (secret.read_bytes(), new_secret.read_bytes()):
        assert s not in stored and s.hex().encode() not in stored
