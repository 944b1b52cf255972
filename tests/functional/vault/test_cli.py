"""The t4o-vault command, run as operators run it."""

from __future__ import annotations

import json
import os
import pty

from t4o.vault import PosixBackend, Repository
from tests.fixtures.vault_blobs import forget_blob

from .conftest import MiB, vault_cli, write_disk


def test_cli_backup_restore_ls_delete_gc_verify(tmp_path):
    repo = str(tmp_path / "repo")
    disk = write_disk(tmp_path / "disk.raw", 8, seed=7)
    assert "created repository" in vault_cli("--repo", repo, "init", check=True).stdout
    out = vault_cli(
        "--repo", repo, "backup", str(disk), "--disk", "vda", "--snapshot", "s1", "--workload", "w1"
    )
    assert out.returncode == 0 and "snapshot s1/vda" in out.stdout, out.stderr
    with open(disk, "r+b") as f:
        f.write(b"changed")
    extents = tmp_path / "extents.json"
    extents.write_text(json.dumps([[0, 7]]))
    out = vault_cli(
        "--repo",
        repo,
        "backup",
        str(disk),
        "--disk",
        "vda",
        "--snapshot",
        "s2",
        "--workload",
        "w1",
        "--parent",
        "s1/vda",
        "--extents",
        str(extents),
    )
    assert out.returncode == 0 and f"read {1.0:.1f} MiB" in out.stdout, out.stdout + out.stderr
    ls = vault_cli("--repo", repo, "--json", "ls", "--workload", "w1", check=True)
    assert [s["snapshot_id"] for s in json.loads(ls.stdout)] == ["s1", "s2"]
    assert vault_cli("--repo", repo, "ls", "--workloads", check=True).stdout.split() == ["w1"]
    assert json.loads(vault_cli("--repo", repo, "--json", "ls", "--workloads", check=True).stdout) == {
        "w1": None
    }
    detail = json.loads(vault_cli("--repo", repo, "ls", "s2", check=True).stdout)
    assert detail["disk_details"][0]["parent"] == "s1/vda" and detail["disk_details"][0]["size"] == 8 * MiB
    target = tmp_path / "out.raw"
    assert vault_cli("--repo", repo, "restore", "s2", str(target), check=True).returncode == 0
    assert target.read_bytes() == disk.read_bytes()
    vault_cli("--repo", repo, "export", "s1/vda", str(tmp_path / "s1.qcow2"), "--format", "qcow2", check=True)
    assert (tmp_path / "s1.qcow2").read_bytes()[:4] == b"QFI\xfb"
    assert "deleted s1" in vault_cli("--repo", repo, "delete", "s1", check=True).stdout
    gc = vault_cli("--repo", repo, "--json", "gc", "--grace", "0", check=True)
    # s2 stored block 0 as a patch (the 64 KiB piece that changed) over s1's block: that stays.
    assert json.loads(gc.stdout)["deleted"] == 0 and json.loads(gc.stdout)["swept"]
    dry = vault_cli("--repo", repo, "gc", "--dry-run", check=True)
    assert "would delete 0 chunks" in dry.stdout
    verify = vault_cli("--repo", repo, "verify", "--read-data", check=True)
    assert verify.stdout.strip().endswith("OK")
    info = json.loads(vault_cli("--repo", repo, "--json", "info", check=True).stdout)
    assert info["snapshots"] == 1 and info["workloads"] == 1
    # s1's 6 blocks (still the base of s2's block 0) and s2's 64 KiB piece; random data: stored raw
    assert info["chunks"] == 7 and info["packs"] == 2
    assert 6 * MiB + 65536 < info["stored_bytes"] < 6 * MiB + 65536 + 4096


def test_cli_verify_reports_damage_with_exit_2(tmp_path):
    repo = str(tmp_path / "repo")
    disk = write_disk(tmp_path / "disk.raw", 2, seed=8, zero_every=0)
    vault_cli("--repo", repo, "init", check=True)
    vault_cli("--repo", repo, "backup", str(disk), "--disk", "vda", "--snapshot", "s1", check=True)
    opened = Repository.open(PosixBackend(repo))
    victim = opened.get_manifest("s1/vda").chunks[1]
    assert isinstance(victim, str)
    forget_blob(opened, victim)
    out = vault_cli("--repo", repo, "verify")
    assert out.returncode == 2 and f"MISSING chunk {victim}, needed by s1/vda" in out.stdout
    out = vault_cli("--repo", repo, "--json", "verify")
    report = json.loads(out.stdout)
    assert out.returncode == 2 and not report["ok"] and report["missing"] == {victim: ["s1/vda"]}
    assert report["affected"] == ["s1/vda"]


def test_cli_bad_arguments_are_one_line_errors(tmp_path):
    repo = str(tmp_path / "repo")
    vault_cli("--repo", repo, "init", check=True)
    disk = write_disk(tmp_path / "disk.raw", 1, zero_every=0)
    vault_cli("--repo", repo, "backup", str(disk), "--disk", "vda", "--snapshot", "s1", check=True)
    for args in (
        ("export", "s1/vda", str(disk / "x.qcow2"), "--format", "qcow2"),  # below a file
        ("export", "s1/vda", str(disk / "x.raw")),
        ("restore", "s1/vda", str(tmp_path)),  # a directory is not a disk
    ):
        out = vault_cli("--repo", repo, *args)
        assert out.returncode == 1 and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, (
            out.stderr
        )
    for args in (
        ("restore", "nope", str(tmp_path / "x")),
        ("backup", str(tmp_path), "--disk", "bad/id"),
        ("backup", str(tmp_path), "--disk", "vda"),
        ("backup", str(tmp_path), "--disk", "vda", "--extents", str(tmp_path / "missing.json")),
        ("delete", "nope"),
        ("backup", str(tmp_path / "repo" / "config"), "--disk", "vda", "--metadata", "{bad json"),
        ("export", "nope/vda", str(tmp_path / "no" / "such" / "dir" / "x.qcow2"), "--format", "qcow2"),
    ):
        out = vault_cli("--repo", repo, *args)
        assert out.returncode == 1, args
        assert out.stderr.startswith("t4o-vault: error: ") and out.stderr.count("\n") == 1, out.stderr


def test_cli_shows_progress_on_a_terminal_only(tmp_path):
    repo = str(tmp_path / "repo")
    disk = write_disk(tmp_path / "disk.raw", 4, seed=9)
    vault_cli("--repo", repo, "init", check=True)
    master, slave = pty.openpty()
    try:
        proc = vault_cli("--repo", repo, "backup", str(disk), "--disk", "vda", stderr=slave)
        os.close(slave)
        shown = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the terminal's other side is closed and drained
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(master)
    assert proc.returncode == 0
    assert b"backup: 100.0%" in shown and b"MiB/s" in shown
    quiet = vault_cli("--repo", repo, "backup", str(disk), "--disk", "vdb")  # stderr is a pipe here
    assert quiet.returncode == 0 and quiet.stderr == ""
