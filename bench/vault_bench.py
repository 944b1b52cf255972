#!/usr/bin/env python3
"""The vault against its peers on the same disk images, in one run.

    .venv/bin/python bench/vault_bench.py                 # 4 GiB image, 1 GiB for the memory and clone runs
    .venv/bin/python bench/vault_bench.py --size 2G --no-s3

Peers, each with its defaults, writing to the same filesystem: `qemu-img convert -O qcow2` (a plain copy),
Debian's restic and borgbackup (both encrypt: the vault runs with a password too, so it encrypts as well).
Every step runs as its own process under GNU time (wall time, peak resident memory); stored bytes are
the blocks allocated under the target. Page cache: dropping it is not possible here, so every step
reads a warm image (the image is read once right before each step) and every tool is measured the same way.
Results: a table on stdout, bench/results.json, and docs/benchmarks.md (its "## Analysis" part and any section
the benchmark does not write itself are kept).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from images import build_image, change_blocks, database_day  # noqa: E402
from measure import Measure, StepFailed, disk_usage, run, same_content  # noqa: E402

PASSWORD = "benchmark-password"
# Steps that write to the disk: each is followed by a timed `sync`, since tools differ in whether they
# flush (the vault fsyncs its objects and a restored disk; qemu-img and restic leave dirty pages).
FLUSHED = ("write image", "full backup", "incremental", "full restore", "S3 full backup", "S3 full restore")
GiB = 1024**3


def parse_size(text: str) -> int:
    units = {"K": 1024, "M": 1024**2, "G": GiB, "T": 1024**4}
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def size_arg(n: int) -> str:
    for suffix, unit in (("G", GiB), ("M", 1024**2)):
        if n % unit == 0:
            return f"{n // unit}{suffix}"
    return str(n)


def human(n: float | None, unit: str = "B") -> str:
    if n is None:
        return "-"
    for prefix in ("", "Ki", "Mi", "Gi", "Ti"):
        if abs(n) < 1024 or prefix == "Ti":
            return f"{n:.0f} {prefix}{unit}" if prefix == "" else f"{n:.2f} {prefix}{unit}"
        n /= 1024
    return str(n)


class Bench:
    def __init__(self, work: Path, log: Path) -> None:
        self.work = work
        self.log = log
        self.results: dict[str, dict[str, dict[str, float | int | None]]] = {}
        self.checks: dict[str, bool] = {}
        self.env = {
            "VAULT_BENCH_PASSWORD": PASSWORD,
            "RESTIC_PASSWORD": PASSWORD,
            "RESTIC_CACHE_DIR": str(work / "cache" / "restic"),
            "BORG_PASSPHRASE": PASSWORD,
            "BORG_BASE_DIR": str(work / "cache" / "borg"),
            "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes",
        }

    def say(self, text: str) -> None:
        print(f"[{dt.datetime.now(dt.UTC):%H:%M:%S}] {text}", flush=True)

    def record(self, op: str, tool: str, m: Measure) -> Measure:
        self.results.setdefault(op, {})[tool] = m.as_dict()
        stored = f", stored {human(m.stored)}" if m.stored is not None else ""
        flush = f" + sync {m.flush_seconds:.2f} s" if m.flush_seconds is not None else ""
        self.say(f"  {op:<22} {tool:<22} {m.seconds:8.2f} s{flush}, peak {human(m.peak_rss)}{stored}")
        return m

    def warm(self, image: Path) -> None:
        subprocess.run(["sh", "-c", f'cat "{image}" > /dev/null'], check=True)

    def step(
        self,
        op: str,
        tool: str,
        cmd: list[str],
        *,
        warm: Path | None = None,
        cwd: Path | None = None,
        stored: Callable[[], int] | None = None,
        env: dict[str, str] | None = None,
    ) -> Measure | None:
        if warm is not None:
            self.warm(warm)
        flush = op in FLUSHED
        if flush:
            os.sync()  # earlier steps' dirty pages are not this step's to flush
        try:
            m = run(cmd, env={**self.env, **(env or {})}, cwd=cwd, log=self.log)
        except StepFailed as exc:
            self.say(f"  {op:<22} {tool:<22} FAILED: {exc}")
            self.results.setdefault(op, {})[tool] = {"error": str(exc).splitlines()[0]}
            return None
        if flush:
            # What the tool left in the page cache still has to reach the disk: time that as well.
            started = time.monotonic()
            subprocess.run(["sync", "-f", str(self.work)], check=True)
            m.flush_seconds = time.monotonic() - started
        if stored is not None:
            m.stored = stored()
        if "--result" in cmd:
            result = Path(cmd[cmd.index("--result") + 1])
            m.engine_seconds = json.loads(result.read_text()).get("engine_seconds")
        return self.record(op, tool, m)

    def vault(self, *args: str) -> list[str]:
        cmd = [sys.executable, str(HERE / "vault_worker.py"), *args]
        if args[0] in ("backup", "restore") and "--result" not in args:
            cmd += ["--result", str(self.work / f"result-{uuid.uuid4().hex[:8]}.json")]
        return cmd


def find_file(root: Path, name: str) -> Path:
    for path in root.rglob(name):
        if path.is_file():
            return path
    raise FileNotFoundError(f"{name} not restored under {root}")


def run_all(args: argparse.Namespace, work: Path) -> Bench:
    b = Bench(work, work / "bench.log")
    big, small = work / "disk.img", work / "small.img"
    b.say(f"building images in {work} ({human(args.size)} and {human(args.small_size)}) from {args.source}")
    build_image(big, args.size, args.source, seed=1)
    build_image(small, args.small_size, args.source, seed=2)
    b.results["images"] = {
        "disk": {"size": args.size, "allocated": disk_usage(big)},
        "small": {"size": args.small_size, "allocated": disk_usage(small)},
    }

    b.say("machine limits")
    b.step("read image", "cat > /dev/null", ["sh", "-c", f'cat "{big}" > /dev/null'], warm=big)
    copy = work / "copy.img"
    # Writing the image's data (holes stay holes, as every tool here writes them), then syncing it.
    b.step("write image", "cp --sparse=always", ["cp", "--sparse=always", str(big), str(copy)], warm=big)
    copy.unlink(missing_ok=True)

    repos = work / "repos"
    repos.mkdir()
    vault_repo, restic_repo, borg_repo = repos / "vault", repos / "restic", repos / "borg"
    qcow = repos / "qemu" / "disk.qcow2"
    qcow.parent.mkdir()
    # Repository creation is not timed.
    subprocess.run(b.vault("init", str(vault_repo)), env={**os.environ, **b.env}, check=True)
    subprocess.run(
        ["restic", "-q", "-r", str(restic_repo), "init"],
        env={**os.environ, **b.env},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(["borg", "init", "-e", "repokey", str(borg_repo)], env={**os.environ, **b.env}, check=True)

    b.say("full backup")
    full_ref_file = work / "full.json"
    b.step(
        "full backup",
        "vault",
        b.vault("backup", str(vault_repo), str(big), "disk0", "--result", str(full_ref_file)),
        warm=big,
        stored=lambda: disk_usage(vault_repo),
    )
    b.step(
        "full backup",
        "qemu-img convert",
        ["qemu-img", "convert", "-O", "qcow2", str(big), str(qcow)],
        warm=big,
        stored=lambda: disk_usage(qcow),
    )
    b.step(
        "full backup",
        "restic",
        ["restic", "-q", "-r", str(restic_repo), "backup", big.name],
        cwd=work,
        warm=big,
        stored=lambda: disk_usage(restic_repo),
    )
    b.step(
        "full backup",
        "borg",
        ["borg", "create", f"{borg_repo}::full", big.name],
        cwd=work,
        warm=big,
        stored=lambda: disk_usage(borg_repo),
    )
    full_ref = json.loads(full_ref_file.read_text())["ref"]

    b.say("incremental after 1% of the 1 MiB blocks changed (one 64 KiB write in each)")
    vault_noext = repos / "vault-noext"
    shutil.copytree(vault_repo, vault_noext)
    extents = change_blocks(big, 0.01, seed=11, whole_blocks=False)
    extents_file = work / "extents.json"
    extents_file.write_text(json.dumps(extents))
    before = {
        name: disk_usage(path)
        for name, path in (
            ("vault", vault_repo),
            ("vault-noext", vault_noext),
            ("restic", restic_repo),
            ("borg", borg_repo),
        )
    }
    inc_ref_file = work / "inc.json"
    b.step(
        "incremental",
        "vault (extent list)",
        b.vault(
            "backup",
            str(vault_repo),
            str(big),
            "disk0",
            "--parent",
            full_ref,
            "--extents",
            str(extents_file),
            "--result",
            str(inc_ref_file),
        ),
        warm=big,
        stored=lambda: disk_usage(vault_repo) - before["vault"],
    )
    b.step(
        "incremental",
        "vault (no extent list)",
        b.vault("backup", str(vault_noext), str(big), "disk0", "--parent", full_ref),
        warm=big,
        stored=lambda: disk_usage(vault_noext) - before["vault-noext"],
    )
    shutil.rmtree(vault_noext)
    b.step(
        "incremental",
        "restic",
        ["restic", "-q", "-r", str(restic_repo), "backup", big.name],
        cwd=work,
        warm=big,
        stored=lambda: disk_usage(restic_repo) - before["restic"],
    )
    b.step(
        "incremental",
        "borg",
        ["borg", "create", f"{borg_repo}::inc", big.name],
        cwd=work,
        warm=big,
        stored=lambda: disk_usage(borg_repo) - before["borg"],
    )
    inc_ref = json.loads(inc_ref_file.read_text())["ref"]

    b.say(f"database day: {args.db_pages:.0%} of the 4 KiB pages of a file (a third of the disk) rewritten")
    extents = database_day(big, args.db_pages, seed=12)
    extents_file.write_text(json.dumps(extents))
    b.results["images"]["database day"] = {"pages": len(extents), "changed": 4096 * len(extents)}
    repos_now = (("vault", vault_repo), ("restic", restic_repo), ("borg", borg_repo))
    before = {name: disk_usage(path) for name, path in repos_now}
    db_ref_file = work / "db.json"
    b.step(
        "database day",
        "vault (extent list)",
        b.vault(
            "backup", str(vault_repo), str(big), "disk0", "--parent", inc_ref,
            "--extents", str(extents_file), "--result", str(db_ref_file),
        ),
        warm=big,
        stored=lambda: disk_usage(vault_repo) - before["vault"],
    )  # fmt: skip
    b.step(
        "database day",
        "restic",
        ["restic", "-q", "-r", str(restic_repo), "backup", big.name],
        cwd=work,
        warm=big,
        stored=lambda: disk_usage(restic_repo) - before["restic"],
    )
    b.step(
        "database day",
        "borg",
        ["borg", "create", f"{borg_repo}::db", big.name],
        cwd=work,
        warm=big,
        stored=lambda: disk_usage(borg_repo) - before["borg"],
    )
    db_ref = json.loads(db_ref_file.read_text())["ref"]

    b.say("full restore (of the database day: a synthetic full with patched blocks; qemu-img: its only copy)")
    out = work / "restore"
    for tool in ("vault", "qemu-img convert", "restic", "borg"):
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        if tool == "vault":
            target = out / big.name
            m = b.step("full restore", tool, b.vault("restore", str(vault_repo), db_ref, str(target)))
        elif tool == "qemu-img convert":
            target = out / big.name
            m = b.step("full restore", tool, ["qemu-img", "convert", "-O", "raw", str(qcow), str(target)])
        elif tool == "restic":
            m = b.step(
                "full restore",
                tool,
                ["restic", "-q", "-r", str(restic_repo), "restore", "latest", "--target", str(out)],
            )
            target = find_file(out, big.name) if m else out
        else:
            m = b.step("full restore", tool, ["borg", "extract", f"{borg_repo}::db"], cwd=out)
            target = find_file(out, big.name) if m else out
        if m is not None and tool != "qemu-img convert":
            b.checks[f"restore by {tool} equals the image"] = same_content(big, target)
    shutil.rmtree(out, ignore_errors=True)
    for path in (restic_repo, borg_repo, qcow.parent):
        shutil.rmtree(path, ignore_errors=True)

    b.say("peak memory: the same full backup of the small image")
    small_repo = repos / "vault-small"
    subprocess.run(b.vault("init", str(small_repo)), env={**os.environ, **b.env}, check=True)
    b.step(
        "memory: small image",
        "vault",
        b.vault("backup", str(small_repo), str(small), "disk0"),
        warm=small,
        stored=lambda: disk_usage(small_repo),
    )
    shutil.rmtree(small_repo)

    for kind, compressible in (("text-like", True), ("random", False)):
        run_clones(b, small, repos, args.clones, kind, compressible)

    if not args.no_s3:
        run_s3(b, big, work)
    shutil.rmtree(repos, ignore_errors=True)
    return b


def run_clones(b: Bench, small: Path, repos: Path, count: int, kind: str, compressible: bool) -> None:
    """``count`` clones of the small image, each with 5% of its blocks rewritten, into one repository."""
    b.say(f"{count} disks cloned from the small image, 5% of each one's blocks rewritten with {kind} bytes")
    clone_repo = repos / "vault-clones"
    subprocess.run(b.vault("init", str(clone_repo)), env={**os.environ, **b.env}, check=True)
    clone = small.with_name("clone.img")
    one_disk = total = peak = 0
    seconds = cpu = 0.0
    for i in range(count):
        subprocess.run(["cp", "--sparse=always", str(small), str(clone)], check=True)
        change_blocks(clone, 0.05, seed=100 + i, whole_blocks=True, compressible=compressible)
        m = b.step(
            f"clone {i}",
            "vault",
            b.vault("backup", str(clone_repo), str(clone), f"disk{i}"),
            warm=clone,
            stored=lambda: disk_usage(clone_repo),
        )
        b.results.pop(f"clone {i}", None)
        if m is None:
            break
        seconds, cpu, peak = seconds + m.seconds, cpu + m.cpu, max(peak, m.peak_rss)
        total = m.stored or 0
        one_disk = one_disk or total
    clone.unlink(missing_ok=True)
    shutil.rmtree(clone_repo)
    b.results[f"clones ({kind} writes)"] = {
        "vault": {
            "disks": count,
            "one_disk": one_disk,
            "stored": total,
            "ratio": round(total / one_disk, 3) if one_disk else None,
            "added_per_clone": (total - one_disk) // (count - 1) if count > 1 else None,
            "written_per_clone": round(small.stat().st_size * 0.05),
            "seconds": round(seconds, 3),
            "cpu": round(cpu, 2),
            "peak_rss": peak,
        }
    }


def run_s3(b: Bench, big: Path, work: Path) -> None:
    """The vault and restic side by side on one SeaweedFS (each in its own bucket): full backup, an
    incremental after the database day, and a full restore; stored bytes from the server's data."""
    from tests.fixtures.s3 import run_seaweedfs

    b.say("S3: the vault and restic on SeaweedFS (127.0.0.1)")
    s3_dir = work / "seaweedfs"
    with run_seaweedfs(s3_dir) as (server, proc):
        url = f"s3://vault-bench-{uuid.uuid4().hex[:8]}/repo?endpoint={server.endpoint}"
        restic = f"s3:{server.endpoint}/restic-bench-{uuid.uuid4().hex[:8]}/repo"
        env = {"AWS_ACCESS_KEY_ID": server.access_key, "AWS_SECRET_ACCESS_KEY": server.secret_key}
        full_env = {**os.environ, **b.env, **env}
        subprocess.run(b.vault("init", url), env=full_env, check=True)
        subprocess.run(
            ["restic", "-q", "-r", restic, "init"], env=full_env, check=True, stdout=subprocess.DEVNULL
        )

        def grew(start: int) -> Callable[[], int]:
            return lambda: disk_usage(s3_dir) - start

        ref_file = work / "s3.json"
        base = disk_usage(s3_dir)
        b.step(
            "S3 full backup",
            "vault",
            b.vault("backup", url, str(big), "disk0", "--result", str(ref_file)),
            warm=big,
            env=env,
            stored=grew(base),
        )
        base = disk_usage(s3_dir)
        b.step(
            "S3 full backup",
            "restic",
            ["restic", "-q", "-r", restic, "backup", big.name],
            cwd=work,
            warm=big,
            env=env,
            stored=grew(base),
        )
        if ref_file.exists():
            ref = json.loads(ref_file.read_text())["ref"]
            extents = database_day(big, 0.02, seed=13)
            extents_file = work / "s3-extents.json"
            extents_file.write_text(json.dumps(extents))
            inc_file = work / "s3-inc.json"
            base = disk_usage(s3_dir)
            b.step(
                "S3 incremental",
                "vault",
                b.vault(
                    "backup", url, str(big), "disk0", "--parent", ref, "--extents", str(extents_file),
                    "--result", str(inc_file),
                ),
                warm=big,
                env=env,
                stored=grew(base),
            )  # fmt: skip
            base = disk_usage(s3_dir)
            b.step(
                "S3 incremental",
                "restic",
                ["restic", "-q", "-r", restic, "backup", big.name],
                cwd=work,
                warm=big,
                env=env,
                stored=grew(base),
            )
            ref = json.loads(inc_file.read_text())["ref"] if inc_file.exists() else ref
            target = work / "s3-restored.img"
            if b.step("S3 full restore", "vault", b.vault("restore", url, ref, str(target)), env=env):
                b.checks["restore from S3 equals the image"] = same_content(big, target)
            target.unlink(missing_ok=True)
            out = work / "s3-restic-restore"
            out.mkdir(exist_ok=True)
            cmd = ["restic", "-q", "-r", restic, "restore", "latest", "--target", str(out)]
            if b.step("S3 full restore", "restic", cmd, env=env):
                b.checks["restore by restic from S3 equals the image"] = same_content(
                    big, find_file(out, big.name)
                )
            shutil.rmtree(out, ignore_errors=True)
        b.results["S3 server"] = {"seaweedfs": {"peak_rss": peak_rss_of(proc.pid)}}
    shutil.rmtree(s3_dir, ignore_errors=True)


def peak_rss_of(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


# -- report -------------------------------------------------------------------------------------------


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine(load_at_start: str) -> dict[str, str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    free = subprocess.run(["free", "-g"], capture_output=True, text=True).stdout.strip()
    versions = {}
    for name, cmd in (
        ("restic", ["restic", "version"]),
        ("borg", ["borg", "--version"]),
        ("qemu-img", ["qemu-img", "--version"]),
    ):
        try:
            versions[name] = subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0]
        except (OSError, IndexError):
            versions[name] = "missing"
    return {
        "load": f"{load_at_start} at the start, {loadavg()} at the end (1, 5, 15 min)",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "free -g": free,
        "kernel": platform.release(),
        "python": platform.python_version(),
        **versions,
    }


def cell(entry: dict[str, float | int | None] | None, field: str) -> str:
    if not entry:
        return "-"
    if "error" in entry:
        return "failed"
    value = entry.get(field)
    if value is None:
        return "-"
    if field == "seconds" and entry.get("engine_seconds") is not None:
        return f"{value:.2f} s (in-process {entry['engine_seconds']:.2f} s)"
    if field in ("seconds", "cpu", "flush"):
        return f"{value:.2f} s"
    return human(value)


def ratio(
    peer: dict[str, float | int | None] | None, vault: dict[str, float | int | None] | None, field: str
) -> str:
    if not peer or not vault or "error" in peer or "error" in vault:
        return "-"
    if field == "durable":
        a, v = durable(peer), durable(vault)
    else:
        a, v = peer.get(field), vault.get(field)
    if not a or not v:
        return "-"
    return f"{a / v:.2f}x"


def durable(entry: dict[str, float | int | None]) -> float | None:
    """Seconds until the step's data is on disk: the step and the sync after it."""
    seconds, flush = entry.get("seconds"), entry.get("flush")
    return None if seconds is None or flush is None else float(seconds) + float(flush)


def tables(b: Bench) -> str:
    r = b.results
    size = r["images"]["disk"]["size"]
    lines = [
        "| step | tool | wall time | then sync | CPU time | throughput | stored | peak memory "
        "| vault faster by | same, with sync | vault stores less by |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for op in (
        "read image",
        "write image",
        "full backup",
        "incremental",
        "database day",
        "full restore",
        "memory: small image",
        "S3 full backup",
        "S3 incremental",
        "S3 full restore",
    ):
        vault = r.get(op, {}).get("vault") or r.get(op, {}).get("vault (extent list)")
        for tool, entry in r.get(op, {}).items():
            seconds = entry.get("seconds") if "error" not in entry else None
            moved = r["images"]["small"]["size"] if op.startswith("memory") else size
            rate = human(moved / seconds, "B/s") if seconds else "-"
            is_vault = tool.startswith("vault")
            lines.append(
                f"| {op} | {tool} | {cell(entry, 'seconds')} | {cell(entry, 'flush')} | "
                f"{cell(entry, 'cpu')} | {rate} | {cell(entry, 'stored')} | {cell(entry, 'peak_rss')} | "
                f"{'' if is_vault else ratio(entry, vault, 'seconds')} | "
                f"{'' if is_vault else ratio(entry, vault, 'durable')} | "
                f"{'' if is_vault else ratio(entry, vault, 'stored')} |"
            )
    for kind in ("text-like", "random"):
        clones = r.get(f"clones ({kind} writes)", {}).get("vault")
        if clones:
            lines.append(
                f"| {clones['disks']} clones, 5% {kind} writes each | vault | {clones['seconds']:.2f} s | | "
                f"{clones['cpu']:.2f} s | - | {human(clones['stored'])} (first clone alone: "
                f"{human(clones['one_disk'])}: {clones['ratio']}x; each further clone added "
                f"{human(clones['added_per_clone'])} for {human(clones['written_per_clone'])} written) | "
                f"{human(clones['peak_rss'])} | | | |"
            )
    server = r.get("S3 server", {}).get("seaweedfs")
    if server and server.get("peak_rss"):
        lines.append(f"| S3 server | SeaweedFS | | | | | | {human(server['peak_rss'])} | | | |")
    return "\n".join(lines)


def targets(b: Bench) -> list[tuple[str, str, bool | None]]:
    r = b.results

    def get(op: str, tool: str, field: str) -> float | None:
        entry = r.get(op, {}).get(tool)
        if not entry or "error" in entry:
            return None
        value = entry.get(field)
        return float(value) if value is not None else None

    def check(name: str, measured: str, ok: bool | None) -> tuple[str, str, bool | None]:
        return name, measured, ok

    def until_durable(op: str, tool: str) -> float | None:
        entry = r.get(op, {}).get(tool)
        return durable(entry) if entry and "error" not in entry else None

    def speedup(op: str, peer: str, factor: float) -> tuple[str, bool | None]:
        """Peer time over vault time, judged until the data is on disk (the step and a sync)."""
        p, v = until_durable(op, peer), until_durable(op, "vault")
        pw, vw = get(op, peer, "seconds"), get(op, "vault", "seconds")
        if not (p and v and pw and vw):
            return "-", None
        return f"{p / v:.2f}x ({pw / vw:.2f}x without the sync)", p / v >= factor

    out = []
    v_full = get("full backup", "vault", "seconds")
    for peer in ("restic", "borg"):
        out.append(check(f"full backup >= 2x faster than {peer}", *speedup("full backup", peer, 2)))
    q, v = until_durable("full backup", "qemu-img convert"), until_durable("full backup", "vault")
    qw, vw = get("full backup", "qemu-img convert", "seconds"), get("full backup", "vault", "seconds")
    out.append(
        check(
            "full backup within 2x of qemu-img convert",
            f"vault takes {v / q:.2f}x its time ({vw / qw:.2f}x without the sync)"
            if q and v and qw and vw
            else "-",
            (v <= 2 * q) if q and v else None,
        )
    )
    inc = get("incremental", "vault (extent list)", "seconds")
    inc_e = get("incremental", "vault (extent list)", "engine_seconds")
    full_e = get("full backup", "vault", "engine_seconds")
    out.append(
        check(
            "incremental with extent list < 5% of the full's time (in-process)",
            f"{100 * inc_e / full_e:.1f}% ({100 * inc / v_full:.1f}% with process start)"
            if inc and v_full and inc_e and full_e
            else "-",
            (inc_e < 0.05 * full_e) if inc_e and full_e else None,
        )
    )
    v_db = get("database day", "vault (extent list)", "stored")
    for peer in ("restic", "borg"):
        p = get("database day", peer, "stored")
        out.append(
            check(
                f"database day: stored <= 0.5x {peer}'s",
                f"{v_db / p:.3f}x theirs" if p and v_db else "-",
                (v_db <= 0.5 * p) if p and v_db else None,
            )
        )
    out.append(check("restore >= 2x faster than restic", *speedup("full restore", "restic", 2)))
    v_st = get("full backup", "vault", "stored")
    for peer in ("restic", "borg"):
        p = get("full backup", peer, "stored")
        out.append(
            check(
                f"stored bytes <= {peer}'s",
                f"{v_st / p:.3f}x theirs" if p and v_st else "-",
                (v_st <= p) if p and v_st else None,
            )
        )
    clones = r.get("clones (text-like writes)", {}).get("vault", {})
    c = clones.get("ratio")
    out.append(
        check(
            f"{clones.get('disks', 10)} clones (5% text-like writes each) < 1.6x one disk",
            f"{c}x" if c else "-",
            (c < 1.6) if c else None,
        )
    )
    m_small, m_big = get("memory: small image", "vault", "peak_rss"), get("full backup", "vault", "peak_rss")
    out.append(
        check(
            "peak memory flat (small vs full-size image) and < 400 MB",
            f"{human(m_small)} vs {human(m_big)}" if m_small and m_big else "-",
            (m_big < 400e6 and m_big <= 1.25 * m_small) if m_small and m_big else None,
        )
    )
    s3_b, s3_r = get("S3 full backup", "vault", "seconds"), get("full restore", "vault", "seconds")
    s3_rr = get("S3 full restore", "vault", "seconds")
    if s3_b and v_full:
        out.append(
            check(
                "S3 backup >= half the posix throughput",
                f"{v_full / s3_b:.2f} of posix",
                v_full / s3_b >= 0.5,
            )
        )
    for op in ("S3 full backup", "S3 full restore"):
        if get(op, "restic", "seconds"):
            out.append(check(f"{op} >= 2x faster than restic", *speedup(op, "restic", 2)))
    if s3_rr and s3_r:
        out.append(
            check(
                "S3 restore >= half the posix throughput", f"{s3_r / s3_rr:.2f} of posix", s3_r / s3_rr >= 0.5
            )
        )
    for name, ok in b.checks.items():
        out.append(check(name, "yes" if ok else "NO", ok))
    return out


def markdown(b: Bench, info: dict[str, str], args: argparse.Namespace, analysis: str) -> str:
    mark = {True: "met", False: "**missed**", None: "not measured"}
    target_rows = "\n".join(f"| {name} | {measured} | {mark[ok]} |" for name, measured, ok in targets(b))
    free = info["free -g"].replace("\n", "\n    ")
    return f"""# Benchmarks: the vault against qemu-img, restic and borg

Produced by `.venv/bin/python bench/vault_bench.py --size {size_arg(args.size)} \
--small-size {size_arg(args.small_size)}` (raw numbers: `bench/results.json`).

## Machine

- date: {info["date"]}
- load average: {info["load"]}
- `nproc`: {info["nproc"]}; CPU: {info["cpu"]}; kernel {info["kernel"]}; Python {info["python"]}
- {info["restic"]}; {info["borg"]}; {info["qemu-img"]}
- `free -g`:

    {free}

## Method

- The image ({human(args.size)}, and a {human(args.small_size)} one for the memory and clone runs): a raw
  disk whose first 85% is an ext4 filesystem (4 KiB blocks, `mke2fs -d`) filled to about half with files from
  `{args.source}`, then 5% random bytes, then 10% zeros (a hole). ext4's free space is zero too.
- Every tool writes to the same filesystem, with its defaults: `qemu-img convert -O qcow2` (plain copy),
  `restic backup` (repository v2: compression auto, AES-256 + Poly1305), `borg create` on a
  `borg init -e repokey` repository (lz4, AES-CTR + HMAC-SHA256). The vault runs with a password, so it
  encrypts (AES-256-GCM) as they do; its chunk size is the repository default.
- Each step is one process under GNU time: wall time and its peak resident memory. The page cache cannot
  be dropped here, so every step runs warm: the image is read once (`cat > /dev/null`) right before.
- Tools differ in durability: the vault fsyncs every object it writes and a restored disk; qemu-img and
  restic leave dirty pages behind. So every writing step is followed by a timed `sync -f` of the
  filesystem ("then sync"), and the targets compare the time until the data is on disk; the ratio
  without the sync is shown beside it.
- The machine's limits: reading the image (`cat > /dev/null`, warm) and writing its data
  (`cp --sparse=always`, holes stay holes as with every tool here, then the sync). Throughputs are the
  image's logical size over the time.
- Incremental: 1% of the image's 1 MiB blocks get one 64 KiB write of random bytes at a random 4 KiB
  aligned offset. The vault runs twice, on two copies of the repository: with the list of changed
  extents (as a QEMU dirty bitmap gives it) and without (it reads everything, stores what is new).
  restic and borg read everything; qemu-img has no incremental. "stored" is what the step added.
- Database day (after the incremental): {args.db_pages:.0%} of the 4 KiB pages of a file holding the middle
  third of the disk are rewritten, each at a random page, keeping half of its old bytes and getting half
  new text-like ones (rows updated all over a table). The vault gets the written extents, which it rounds
  out to its 64 KiB pieces as a dirty bitmap would report them; restic and borg read everything.
- Restore: of the database day's snapshot (for the vault a synthetic full with patched blocks), to a raw
  file, compared with `cmp` afterwards (not timed).
- Clones: each clone is the small image with 5% of its 1 MiB blocks rewritten whole, backed up one
  after the other into one repository; the ratio is the total stored over what the first clone alone
  stored. Two series: new text-like bytes (unique, compressing about as well as the image's files) and
  new random bytes (unique and incompressible: each clone then adds 5% of the raw disk size, whatever
  the dedup, while one disk compresses to much less).
- CPU time (user + system) is given beside wall time: on two shared cores it is the steadier figure.
- The load average before and after the run is recorded: other work on the machine slows every tool.
- S3: SeaweedFS (`weed server -s3`) on 127.0.0.1, same machine, so it competes for the two cores; the
  vault and restic each in their own bucket: a full backup, a database-day incremental (another day's
  pages) and a restore of it; "stored" is what the step added to SeaweedFS's data directory.

## Results

{tables(b)}

## Targets

| target | measured | |
|---|---|---|
{target_rows}

## Analysis
{analysis}"""


OWN_SECTIONS = ("Machine", "Method", "Results", "Targets")


def kept_sections(old: str) -> dict[str, str]:
    """The parts of the old file this run keeps: the Analysis, and any section it does not write itself
    (others add theirs to the same file), by title, in their order."""
    kept: dict[str, str] = {}
    for part in old.split("\n## ")[1:]:
        title, _, body = part.partition("\n")
        if title.strip() not in OWN_SECTIONS:
            kept[title.strip()] = body if body.endswith("\n") else body + "\n"
    return kept


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=parse_size, default=parse_size("4G"), help="main image size (4G)")
    parser.add_argument(
        "--small-size",
        type=parse_size,
        default=parse_size("1G"),
        help="image size for the memory comparison and the clones (1G)",
    )
    parser.add_argument("--clones", type=int, default=10)
    parser.add_argument(
        "--db-pages", type=float, default=0.02, help="share of the database file's pages rewritten (0.02)"
    )
    parser.add_argument("--source", type=Path, default=Path("/usr"), help="files for the ext4 image (/usr)")
    parser.add_argument("--workdir", type=Path, help="where images and repositories go (a temp dir)")
    parser.add_argument("--no-s3", action="store_true", help="skip the SeaweedFS run")
    parser.add_argument("--markdown", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--json", type=Path, default=HERE / "results.json")
    args = parser.parse_args()
    for tool in ("restic", "borg", "qemu-img", "mke2fs"):
        if shutil.which(tool) is None:
            print(f"vault_bench: {tool} is missing: run scripts/bootstrap", file=sys.stderr)
            return 2
    work = Path(tempfile.mkdtemp(prefix="vault-bench-", dir=args.workdir))
    load_at_start = loadavg()
    try:
        b = run_all(args, work)
    except KeyboardInterrupt:
        print("vault_bench: interrupted", file=sys.stderr)
        return 130
    finally:
        log = work / "bench.log"
        if log.exists():
            shutil.copy(log, Path(tempfile.gettempdir()) / "vault-bench-last-run.log")
        shutil.rmtree(work, ignore_errors=True)
    info = machine(load_at_start)
    args.json.write_text(
        json.dumps({"machine": info, "results": b.results, "checks": b.checks}, indent=1) + "\n"
    )
    print()
    print(tables(b))
    print()
    for name, measured, ok in targets(b):
        print(f"{'ok  ' if ok else 'MISS' if ok is False else '--  '} {name}: {measured}")
    analysis = (
        "\n(write the analysis of this run here; the benchmark keeps this part when it rewrites the file)\n"
    )
    others = ""
    if args.markdown.exists():
        kept = kept_sections(args.markdown.read_text())
        analysis = kept.pop("Analysis", analysis)
        others = "".join(f"\n## {title}\n{body}" for title, body in kept.items())
    text = markdown(b, info, args, analysis)
    args.markdown.write_text(text if not others else text.rstrip("\n") + "\n" + others)
    print(f"\nwritten: {args.markdown}, {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
