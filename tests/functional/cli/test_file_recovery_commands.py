"""`openstack workload snapshot browse|download` and `workloadmgr snapshot-browse|snapshot-download`
against a real all-in-one API whose backup target holds a snapshot of a real ext4 disk (``mke2fs -d``
from files the test wrote, backed up by the product's backup path and imported): the listings name
those files, downloads equal the bytes written, a directory comes as a tar of the same tree, errors
are the API's one line, and a download that breaks leaves no file behind."""

from __future__ import annotations

import contextlib
import io
import os
import pty
import resource
import select
import socket
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from t4o.client import ApiError, Client, NotFound
from t4o.client.files import CHUNK
from t4o.vault import open_target
from tests.fixtures.control_plane import VENV_BIN, ControlPlane, admin, member
from tests.fixtures.target_documents import write_workload
from tests.functional.cli.conftest import Cli, clean_env
from tests.functional.cli.test_completion import bash_completion, complete  # noqa: F401 - a fixture
from tests.functional.test_api_files import MTIME, _files, _make_ext4

DEMO = "demo"


@dataclass
class Env:
    cp: ControlPlane
    files: dict[str, bytes]
    snapshot_id: str
    snapshot_name: str
    vm_id: str


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    workdir = tmp_path_factory.mktemp("cli-files")
    files = _files()
    disk = _make_ext4(workdir / "tree", files, workdir / "ext4.img")
    url = str(workdir / "vault")
    written = write_workload(open_target(url, create_if_missing=True), DEMO, "alice", "files", 1, disk=disk)
    snap, records, _ = written.snapshots[0]
    cp = ControlPlane(workdir / "cp", {"backup_target": {"url": url}})
    try:
        cp.start_all_in_one()
        resp = cp.request("POST", "/workloads/import_workloads", "admin", admin("admin"), json={})
        assert resp.status_code == 200 and not resp.json()["workloads"]["failed_workloads"], resp.text
        yield Env(cp, files, snap.id, snap.name, records[0]["vm_id"])
    finally:
        cp.stop()


@pytest.fixture
def cli(env: Env, tmp_path: Path) -> Cli:
    return Cli(env.cp, DEMO, tmp_path)


def files_in(home: Path) -> list[str]:
    """What the commands wrote in their directory (which is also HOME: dot files are caches)."""
    return sorted(p.name for p in home.iterdir() if not p.name.startswith("."))


def run_binary(cli: Cli, *args: str, tool: str = "workloadmgr") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(VENV_BIN / tool), *cli.auth(), *args],
        capture_output=True,
        timeout=120,
        check=False,
        env=clean_env(HOME=str(cli.home)),
        cwd=cli.home,
    )


def test_browse_lists_the_files_of_the_image(env: Env, cli: Cli) -> None:
    # by name, VM and disk found in the snapshot (its only VM, that VM's first disk)
    root = cli.json("workload", "snapshot", "browse", env.snapshot_name)
    assert [r["Name"] for r in root] == ["data", "etc", "hosts-link", "lost+found"]
    link = next(r for r in root if r["Name"] == "hosts-link")
    assert (link["Type"], link["Link Target"]) == ("symlink", "etc/hosts")
    assert next(r for r in root if r["Name"] == "etc")["Type"] == "directory"

    data = cli.json("workload", "snapshot", "browse", env.snapshot_id, "--vm", env.vm_id, "--path", "/data")
    assert [(r["Name"], r["Type"], r["Size"], r["Mode"], r["Modified"], r["Link Target"]) for r in data] == [
        ("big.bin", "file", len(env.files["data/big.bin"]), "0644", "2023-11-14T22:13:20Z", None),
        ("notes with spaces.txt", "file", len(env.files["data/notes with spaces.txt"]), "0644",
         "2023-11-14T22:13:20Z", None),
    ]  # fmt: skip
    assert MTIME == 1_700_000_000  # the time the table shows above

    table = cli.ok(
        "snapshot-browse", env.snapshot_id, "--vm-id", env.vm_id, "--disk", "vda", "--path", "/etc",
        "--partition", "0", tool="workloadmgr",
    )  # fmt: skip
    header = table.splitlines()[1]
    assert [h.strip() for h in header.strip("|").split("|")] == [
        "Name", "Type", "Size", "Mode", "Modified", "Link Target"
    ]  # fmt: skip
    assert [line.split("|")[1].strip() for line in table.splitlines()[3:-1]] == ["app", "hosts"]

    volumes = cli.json("snapshot-browse", env.snapshot_id, "--volumes", tool="workloadmgr")
    assert [(v["Partition"], v["Start"], v["Size"], v["Filesystem"]) for v in volumes] == [
        (0, 0, 64 << 20, "ext4")
    ]


def test_download_equals_the_bytes_written(env: Env, cli: Cli) -> None:
    for rel, data in env.files.items():
        out = cli.home / "out" / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        proc = cli.run(
            "snapshot-download", env.snapshot_id, "--vm-id", env.vm_id, "--disk", "vda",
            "--path", "/" + rel, "--output", str(out), tool="workloadmgr",
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert out.read_bytes() == data, rel
        assert not out.with_name(out.name + ".part").exists()
        assert f"Downloaded /{rel} to {out}: {len(data)} bytes" in proc.stderr, proc.stderr
        assert "[" not in proc.stderr  # no progress bar when stderr is not a terminal

    big = env.files["data/big.bin"]
    assert len(big) > 1 << 20
    # default: the file's name in the current directory, which is not replaced
    cli.ok("workload", "snapshot", "download", env.snapshot_name, "--path", "/data/big.bin")
    assert (cli.home / "big.bin").read_bytes() == big
    line = cli.fails("workload", "snapshot", "download", env.snapshot_name, "--path", "/data/big.bin")
    assert line == "big.bin exists: give --output big.bin to replace it, or another --output."
    # --output FILE replaces it; --output DIR writes into it under the file's name
    (cli.home / "big.bin").write_bytes(b"old")
    cli.ok("workload", "snapshot", "download", env.snapshot_id, "--path", "/data/big.bin", "-o", "big.bin")
    assert (cli.home / "big.bin").read_bytes() == big
    (cli.home / "into").mkdir()
    cli.ok("workload", "snapshot", "download", env.snapshot_id, "--path", "/etc/hosts", "-o", "into")
    assert (cli.home / "into" / "hosts").read_bytes() == env.files["etc/hosts"]
    # a symlink is followed; the file is named after its target, which is not replaced
    line = cli.fails(
        "workload", "snapshot", "download", env.snapshot_id, "--path", "/hosts-link", "-o", "into"
    )
    assert line == "into/hosts exists: give --output into/hosts to replace it, or another --output."
    cli.ok("workload", "snapshot", "download", env.snapshot_id, "--path", "/hosts-link", "-o", "into/hosts")
    assert (cli.home / "into" / "hosts").read_bytes() == env.files["etc/hosts"]
    (cli.home / "into" / "hosts").unlink()
    cli.ok("workload", "snapshot", "download", env.snapshot_id, "--path", "/hosts-link", "-o", "into")
    assert (cli.home / "into" / "hosts").read_bytes() == env.files["etc/hosts"]

    # standard output: the bytes only, the summary on stderr
    proc = run_binary(cli, "snapshot-download", env.snapshot_id, "--path", "/data/big.bin", "--output", "-")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == big
    assert f"to standard output: {len(big)} bytes (1.5 MiB)" in proc.stderr.decode()


def test_directory_download_is_a_tar_of_the_tree(env: Env, cli: Cli) -> None:
    proc = cli.run("snapshot-download", env.snapshot_id, "--path", "/etc", tool="workloadmgr")
    assert proc.returncode == 0, proc.stderr
    assert "Downloaded /etc (a directory, as tar) to etc.tar:" in proc.stderr
    with tarfile.open(cli.home / "etc.tar") as tar:
        members = {m.name: m for m in tar.getmembers()}
        got = {n: tar.extractfile(m).read() for n, m in members.items() if m.isfile()}  # type: ignore[union-attr]
    assert got == {rel: data for rel, data in env.files.items() if rel.startswith("etc/")}
    assert sorted(n for n, m in members.items() if m.isdir()) == ["etc", "etc/app"]
    assert members["etc/hosts"].mtime == MTIME

    cli.ok("workload", "snapshot", "download", env.snapshot_name, "--path", "/")
    with tarfile.open(cli.home / "root.tar") as tar:
        got = {
            os.path.normpath(m.name): tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }
        link = tar.getmember("./hosts-link")
    assert got == env.files and link.issym() and link.linkname == "etc/hosts"


def test_errors_are_the_apis_message(env: Env, cli: Cli) -> None:
    url = f"/snapshots/{env.snapshot_id}/vms/{env.vm_id}/disks/vda/download"
    resp = env.cp.request("GET", url, DEMO, member(DEMO), params={"path": "/etc/nope"})
    assert resp.status_code == 404
    message = resp.json()["itemNotFound"]["message"]
    assert "/etc/nope" in message
    for tool, args in (
        ("workloadmgr", ("snapshot-download", env.snapshot_id, "--path", "/etc/nope")),
        (
            "openstack",
            ("workload", "snapshot", "download", env.snapshot_id, "--path", "/etc/nope", "-o", "x"),
        ),
    ):
        proc = cli.run(*args, tool=tool)
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr
        assert proc.stderr.strip().splitlines()[-1] == message
    assert files_in(cli.home) == []  # neither nope, x nor a .part

    browse = cli.run("workload", "snapshot", "browse", env.snapshot_id, "--path", "/etc/nope")
    assert browse.returncode == 1 and "/etc/nope" in browse.stderr.splitlines()[-1]
    line = cli.fails("snapshot-browse", env.snapshot_id, "--path", "/etc/hosts", tool="workloadmgr")
    assert "not a directory" in line and line.endswith("(HTTP 400)")
    line = cli.fails("snapshot-browse", env.snapshot_id, "--partition", "7", tool="workloadmgr")
    assert line == "The disk has no partition 7; its volumes: 0 (ext4). (HTTP 400)"
    line = cli.fails("workload", "snapshot", "browse", env.snapshot_id, "--disk", "vdz")
    assert line == f"VM {env.vm_id} of snapshot {env.snapshot_id} has no disk vdz (its disks: vda)."
    line = cli.fails("workload", "snapshot", "browse", env.snapshot_id, "--vm", "ghost")
    assert line == f"Snapshot {env.snapshot_id} has no VM 'ghost'; its VMs: {env.vm_id} (files-vm)."
    line = cli.fails("workload", "snapshot", "browse", "ghost")
    assert line == "No snapshot with name or ID 'ghost' (see `openstack workload snapshot list`)."
    line = cli.fails("snapshot-browse", "ghost", tool="workloadmgr")
    assert line == "No snapshot with name or ID 'ghost' (see `workloadmgr snapshot-list`)."
    line = cli.fails("snapshot-browse", env.snapshot_id, "--partition", "a b", tool="workloadmgr")
    assert "expected a partition number or an LV name vg/lv" in line


class CuttingProxy:
    """A TCP proxy to the API that closes each connection after ``limit`` bytes of answers: a download
    that breaks part-way, as a dropped connection does."""

    def __init__(self, port: int, limit: int) -> None:
        self.target, self.limit = port, limit
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.cut = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pump, args=(client, upstream, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, self.limit), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while data := src.recv(65536):
                if limit is not None and sent + len(data) > limit:
                    dst.sendall(data[: limit - sent])
                    self.cut += 1
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self.server.close()


def test_a_broken_download_leaves_no_file(env: Env, cli: Cli) -> None:
    proxy = CuttingProxy(env.cp.port, limit=1 << 20)
    try:
        for path, name in (("/data/big.bin", "big.bin"), ("/data", "data.tar")):
            argv = [
                str(VENV_BIN / "workloadmgr"), "--os-endpoint", f"http://127.0.0.1:{proxy.port}/v1/{DEMO}",
                "--os-token", member(DEMO), "snapshot-download", env.snapshot_id, "--path", path,
            ]  # fmt: skip
            proc = subprocess.run(
                argv, capture_output=True, text=True, timeout=120, check=False,
                env=clean_env(HOME=str(cli.home)), cwd=cli.home,
            )  # fmt: skip
            assert proc.returncode == 1, proc.stderr
            assert "Traceback" not in proc.stderr
            line = proc.stderr.strip().splitlines()[-1]
            assert line.startswith(f"The download of {path} stopped after "), line
            if name == "big.bin":  # its length is known
                assert f" of {len(env.files['data/big.bin'])} bytes: " in line, line
            assert files_in(cli.home) == [], name  # neither the file nor its .part
    finally:
        proxy.close()
    assert proxy.cut >= 2


def test_a_full_disk_leaves_no_part_file(env: Env, cli: Cli) -> None:
    """Writing fails part-way (the file size limit of the process stands in for a full disk)."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

    proc = subprocess.run(
        [str(VENV_BIN / "workloadmgr"), *cli.auth(), "snapshot-download", env.snapshot_id,
         "--path", "/data/big.bin"],
        capture_output=True, text=True, timeout=120, check=False,
        env=clean_env(HOME=str(cli.home)), cwd=cli.home, preexec_fn=limit,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert (
        proc.stderr.strip().splitlines()[-1]
        == "Cannot write big.bin.part after 1048576 bytes: File too large."
    )
    assert files_in(cli.home) == []


def test_progress_bar_on_a_terminal(env: Env, cli: Cli) -> None:
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [str(VENV_BIN / "openstack"), *cli.auth(), "workload", "snapshot", "download", env.snapshot_id,
             "--path", "/data/big.bin"],
            stdout=subprocess.DEVNULL, stderr=slave, env=clean_env(HOME=str(cli.home)), cwd=cli.home,
        )  # fmt: skip
        os.close(slave)
        output = b""
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            if not ready:
                break
            try:
                data = os.read(master, 65536)
            except OSError:  # the terminal closed: the program exited
                break
            if not data:
                break
            output += data
        assert proc.wait(timeout=60) == 0, output
    finally:
        os.close(master)
    text = output.decode()
    big = len(env.files["data/big.bin"])
    assert "\rbig.bin [##############################] 100%  1.5 MiB/1.5 MiB" in text, text
    assert f"Downloaded /data/big.bin to big.bin: {big} bytes (1.5 MiB)" in text
    assert (cli.home / "big.bin").stat().st_size == big


@pytest.mark.usefixtures("bash_completion")
def test_shell_completion(cli: Cli, tmp_path: Path) -> None:
    script = tmp_path / "workloadmgr.bash"
    script.write_text(cli.ok("completion", "bash", tool="workloadmgr", auth=False))
    assert complete(script, "_workloadmgr", ["workloadmgr", "snapshot-b"]) == ["snapshot-browse"]
    assert complete(script, "_workloadmgr", ["workloadmgr", "snapshot-do"]) == ["snapshot-download"]
    assert complete(script, "_workloadmgr", ["workloadmgr", "snapshot-download", "--vm"]) == [
        "--vm", "--vm-id", "--vm_id"
    ]  # fmt: skip
    script = tmp_path / "openstack.bash"
    script.write_text(cli.ok("complete", auth=False))
    # (cliff's script does not complete the subcommands of `workload snapshot`, itself a command)
    assert complete(script, "_openstack", ["openstack", "workload", "snapshot", "browse", "--vol"]) == [
        "--volumes"
    ]
    assert complete(script, "_openstack", ["openstack", "workload", "snapshot", "download", "--o"]) == [
        "--output"
    ]


class Pieces(io.BytesIO):
    """A file object that records the size of each write."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    def write(self, data: Any) -> int:
        self.sizes.append(len(data))
        return super().write(data)


def test_client_library(env: Env) -> None:
    client = Client.from_endpoint(f"{env.cp.url}/v1/{DEMO}", token=member(DEMO))
    listing = client.snapshots.browse(env.snapshot_id, env.vm_id, "vda", path="/etc/app")
    assert (listing.path, listing.partition, listing.filesystem) == ("/etc/app", 0, "ext4")
    assert [(e["name"], e["size"]) for e in listing.entries] == [
        ("config.yaml", len(env.files["etc/app/config.yaml"])),
        ("empty", 0),
    ]

    big = env.files["data/big.bin"]
    out, seen = Pieces(), []
    done = client.snapshots.download(
        {"id": env.snapshot_id}, env.vm_id, "vda", "/data/big.bin", 0, out=out,
        progress=lambda got, total: seen.append((got, total)),
    )  # fmt: skip
    assert out.getvalue() == big and (done.received, done.filename, done.is_directory) == (
        len(big),
        "big.bin",
        False,
    )
    assert max(out.sizes) <= CHUNK and len(out.sizes) >= len(big) // CHUNK  # streamed in pieces
    assert seen[-1] == (len(big), len(big)) and len(seen) == len(out.sizes)

    for offset, length, want in ((1048000, 2000, big[1048000:1050000]), (len(big) - 5, None, big[-5:]),
                                 (None, 10, big[:10])):  # fmt: skip
        part = io.BytesIO()
        done = client.snapshots.download(
            env.snapshot_id, env.vm_id, "vda", "/data/big.bin", out=part, offset=offset, length=length
        )
        assert part.getvalue() == want and done.file_size == len(big), (offset, length)
    with pytest.raises(ApiError) as err:
        client.snapshots.download(env.snapshot_id, env.vm_id, "vda", "/data/big.bin", out=io.BytesIO(),
                                  offset=len(big))  # fmt: skip
    assert err.value.status == 416 and f"has {len(big)} bytes" in str(err.value)
    with pytest.raises(NotFound, match="/nope"):
        client.snapshots.browse(env.snapshot_id, env.vm_id, "vda", path="/nope")

    tar_out = io.BytesIO()
    done = client.snapshots.download(env.snapshot_id, env.vm_id, "vda", "/etc/app", out=tar_out)
    assert done.is_directory and done.filename == "app.tar" and done.expected is None
    with tarfile.open(fileobj=io.BytesIO(tar_out.getvalue())) as tar:
        assert tar.extractfile("app/config.yaml").read() == env.files["etc/app/config.yaml"]  # type: ignore[union-attr]


def test_openstack_writes_to_standard_output(env: Env, cli: Cli) -> None:
    proc = run_binary(cli, "workload", "snapshot", "download", env.snapshot_id, "--path", "/data/big.bin",
                      "-o", "-", tool="openstack")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == env.files["data/big.bin"] and files_in(cli.home) == []
