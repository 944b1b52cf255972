"""``t4o-vault``: the operator's command line for a vault repository.

Errors are printed as one line (``t4o-vault: error: ...``) with exit status 1; no tracebacks. Progress
is drawn on stderr when it is a terminal.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

from t4o.common.sizes import format_bytes as _size
from t4o.vault.backend import BackendError
from t4o.vault.disk_reader import DEFAULT_CACHE_MIB, DiskReader
from t4o.vault.errors import InvalidArgument, SnapshotNotFound, VaultError
from t4o.vault.nbd_export import NbdExport
from t4o.vault.progress import Progress, ProgressCallback
from t4o.vault.repository import Repository
from t4o.vault.store import DEFAULT_CHUNK_SIZE
from t4o.vault.url import open_backend

PROG = "t4o-vault"


def _progress_printer() -> ProgressCallback | None:
    if not sys.stderr.isatty():
        return None

    def show(p: Progress) -> None:
        pct = 100.0 * p.fraction
        sys.stderr.write(
            f"\r{p.phase}: {pct:5.1f}%  {_size(p.done)} / {_size(p.total)}  {_size(p.rate)}/s   "
        )
        if p.done >= p.total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def _password(args: argparse.Namespace) -> str | None:
    if args.password_file:
        try:
            with open(args.password_file, encoding="utf-8") as f:
                return f.read().rstrip("\r\n")
        except OSError as exc:
            raise InvalidArgument(f"cannot read password file {args.password_file}: {exc.strerror}") from None
    return os.environ.get("T4O_VAULT_PASSWORD") or None


def _extents(path: str) -> list[tuple[int, int]]:
    """Changed extents from a JSON file: [[offset, length], ...] (qemu-img map output also works)."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as exc:
        raise InvalidArgument(f"cannot read extents file {path}: {exc}") from None
    out = []
    for item in doc:
        if isinstance(item, dict):  # qemu-img map --output=json: keep data ranges
            if item.get("data"):
                out.append((int(item["start"]), int(item["length"])))
        elif isinstance(item, list | tuple) and len(item) == 2:
            out.append((int(item[0]), int(item[1])))
        else:
            raise InvalidArgument(f"extents file {path}: entries must be [offset, length]")
    return out


def _print(doc: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(doc, indent=1, sort_keys=True, default=str))
    elif isinstance(doc, dict):
        for k, v in doc.items():
            print(f"{k}: {v}")
    else:
        print(doc)


def cmd_init(args: argparse.Namespace) -> int:
    repo = Repository.init(
        open_backend(args.repo, create=True, object_lock=args.object_lock),
        _password(args),
        chunk_size=args.chunk_size,
        compression_level=args.compression_level,
    )
    print(
        f"created repository {repo.backend.url} ({repo.config['encryption']}, chunk size {repo.chunk_size})"
    )
    return 0


def _read_secret(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise InvalidArgument(f"cannot read secret file {path}: {exc.strerror}") from None


def _workload_secrets(args: argparse.Namespace) -> dict[str, bytes]:
    """``--workload-secret WORKLOAD=FILE``: the payload of the secret that wraps a workload's own key."""
    out = {}
    for item in args.workload_secret or []:
        workload, sep, path = item.partition("=")
        if not sep or not workload or not path:
            raise InvalidArgument(f"--workload-secret {item!r}: give WORKLOAD=FILE")
        out[workload] = _read_secret(path)
    return out


def _open(args: argparse.Namespace, unlock: bool = True) -> Repository:
    repo = Repository.open(open_backend(args.repo), _password(args))
    if unlock:
        for workload, secret in _workload_secrets(args).items():
            repo.unlock_workload(workload, secret)
    return repo


def cmd_key(args: argparse.Namespace) -> int:
    repo = _open(args, unlock=False)
    secret = _workload_secrets(args).get(args.workload)
    if args.action == "show":
        info = repo.workload_key_info(args.workload)
        if info is None:
            raise InvalidArgument(f"workload {args.workload} has no key of its own")
        _print(info, args.json)
        return 0
    if secret is None:
        raise InvalidArgument(
            f"give the secret of workload {args.workload}: --workload-secret {args.workload}=FILE"
        )
    if args.action == "create":
        if not args.secret_ref:
            raise InvalidArgument(
                "key create needs --secret-ref (the secret's id, kept with the wrapped key)"
            )
        created = repo.create_workload_key(args.workload, args.secret_ref, secret)
        print(f"workload {args.workload}: {'created its key' if created else 'its key exists and unlocks'}")
        return 0
    if not (args.secret_ref and args.new_secret_file):
        raise InvalidArgument("key rotate needs --secret-ref (the new secret's id) and --new-secret-file")
    repo.rewrap_workload_key(args.workload, secret, args.secret_ref, _read_secret(args.new_secret_file))
    print(f"workload {args.workload}: key re-wrapped by secret {args.secret_ref}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    _print(_open(args).info(), args.json)
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    repo = _open(args)
    metadata = json.loads(args.metadata) if args.metadata else None
    extents = _extents(args.extents) if args.extents else None
    start = time.monotonic()
    m = repo.backup_disk(
        args.source,
        args.disk,
        parent=args.parent,
        changed_extents=extents,
        progress=_progress_printer(),
        snapshot_id=args.snapshot,
        workload_id=args.workload,
        fmt=args.format,
        encrypt=False if args.no_encrypt else None,
        metadata=metadata,
    )
    secs = time.monotonic() - start
    s = m.stats
    print(
        f"snapshot {m.ref}: {_size(m.size)} disk, read {_size(s['read_bytes'])}, "
        f"stored {s['new_chunks']} new "
        f"chunks ({_size(s['new_bytes'])}), {s['dedup_chunks']} deduplicated, {s['zero_blocks']} zero, "
        f"{secs:.1f} s"
    )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    repo = _open(args)
    start = time.monotonic()
    m = repo.restore_disk(args.snapshot, args.target, fmt=args.format, progress=_progress_printer())
    print(
        f"restored {m.ref} to {args.target} "
        f"({args.format}, {_size(m.size)}, {time.monotonic() - start:.1f} s)"
    )
    return 0


def cmd_export_nbd(args: argparse.Namespace) -> int:
    """Serve one disk read-only over NBD until interrupted (SIGINT or SIGTERM)."""
    reader = DiskReader(_open(args), args.snapshot, cache_mib=args.cache_mib)
    export = NbdExport(reader, socket_path=args.socket, name=args.name, workers=args.workers)
    # Both signals handled explicitly: a process started in the background by a shell inherits
    # SIGINT ignored, and Python then raises no KeyboardInterrupt for it.
    before = {
        sig: signal.signal(sig, lambda *_: export.stop_soon()) for sig in (signal.SIGTERM, signal.SIGINT)
    }
    export.start()
    print(f"serving {reader.ref} ({_size(reader.size)}) read-only at {export.url}", flush=True)
    try:
        export.serve_forever()
    finally:
        export.stop()
        reader.close()
        for sig, handler in before.items():
            signal.signal(sig, handler)
    st = reader.stats()
    print(
        f"stopped: {export.connections} clients, {_size(st.bytes_read)} read, "
        f"{st.chunks_fetched} chunks fetched ({_size(st.bytes_fetched)}), {st.cache_hits} cache hits"
    )
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    repo = _open(args)
    if args.snapshot:
        doc = repo.get_snapshot(args.snapshot)
        doc["disk_details"] = []
        for d in doc["disks"]:
            m = repo.get_manifest(args.snapshot, d)
            doc["disk_details"].append(
                {
                    "disk": d,
                    "size": m.size,
                    "blocks": len(m.chunks),
                    "stored_blocks": m.stored_blocks,
                    "parent": m.parent,
                }
            )
        _print(doc, True)
        return 0
    if args.workloads:
        if args.json:  # the workload documents, for importing into a new installation
            docs: dict[str, dict[str, Any] | None] = {}
            for wid in repo.list_workloads():
                try:
                    docs[wid] = repo.get_workload(wid)
                except SnapshotNotFound:
                    docs[wid] = None  # snapshots name it, but no document was stored
            _print(docs, True)
            return 0
        for wid in repo.list_workloads():
            print(wid)
        return 0
    snaps = repo.list_snapshots(args.workload)
    if args.json:
        _print(snaps, True)
        return 0
    for s in snaps:
        print(
            f"{s['snapshot_id']}  {s.get('created', '')}  workload={s.get('workload_id')}  "
            f"disks={','.join(s['disks'])}"
        )
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    repo = _open(args)
    for ref in args.snapshot:
        disks = repo.delete_snapshot(ref)
        print(f"deleted {ref} ({', '.join(disks)}); run gc to free its chunks")
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    r = _open(args).gc(grace=args.grace, dry_run=args.dry_run)
    if args.json:
        _print(dataclasses.asdict(r), True)
        return 0
    verb = "would delete" if args.dry_run else "deleted"
    print(
        f"{r.manifests} manifests reference {r.referenced} of {r.chunks_total} chunks; {verb} "
        f"{r.deleted} chunks ({_size(r.deleted_bytes)}); kept {r.kept_recent} recent unreferenced"
    )
    if r.skipped_reason:
        print(f"sweep skipped: {r.skipped_reason}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    report = _open(args).verify(args.snapshot, read_data=args.read_data, progress=_progress_printer())
    if args.json:
        doc = dataclasses.asdict(report)
        doc["affected"] = sorted(report.affected)
        doc["ok"] = report.ok
        _print(doc, True)
        return 0 if report.ok else 2
    for line in report.lines():
        print(line)
    return 0 if report.ok else 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Operate a T4O vault backup repository.")
    p.add_argument("--repo", required=True, help="repository: a directory or s3://bucket/prefix?endpoint=URL")
    p.add_argument("--password-file", help="file holding the repository password (or env T4O_VAULT_PASSWORD)")
    p.add_argument(
        "--workload-secret",
        action="append",
        metavar="WORKLOAD=FILE",
        help="file holding the secret (e.g. a Barbican secret's payload) that unlocks a workload's own key; "
        "repeat for several workloads",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output where it applies")
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens to stderr")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("init", help="create a repository")
    s.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE, help="block size in bytes")
    s.add_argument("--compression-level", type=int, default=3, help="zstd level 1..19 (default 3)")
    s.add_argument(
        "--object-lock",
        action="store_true",
        help="S3 only: create (or require) a bucket with object lock, for immutable snapshots",
    )
    s.set_defaults(func=cmd_init)
    sub.add_parser("info", help="show the repository's settings and counts").set_defaults(func=cmd_info)

    s = sub.add_parser("backup", help="back up one disk (file or block device, raw or qcow2)")
    s.add_argument("source")
    s.add_argument("--disk", required=True, help="disk id within the snapshot, e.g. vda or a volume id")
    s.add_argument("--snapshot", help="snapshot id (default: a new time-based id)")
    s.add_argument("--workload", default="default", help="workload id (default: default)")
    s.add_argument("--parent", help="earlier snapshot of this disk: SNAPSHOT/DISK")
    s.add_argument("--extents", help="JSON file of changed [offset, length] ranges (needs --parent)")
    s.add_argument("--format", choices=("raw", "qcow2"), help="source format (default: detected)")
    s.add_argument("--metadata", help="JSON object stored in the manifest")
    s.add_argument("--no-encrypt", action="store_true", help="store unencrypted in a password repository")
    s.set_defaults(func=cmd_backup)

    for name, helptext in (
        ("restore", "restore a disk to a file or block device"),
        ("export", "write a disk of any snapshot out as raw or qcow2"),
    ):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("snapshot", help="SNAPSHOT/DISK, or SNAPSHOT when it has one disk")
        s.add_argument("target")
        s.add_argument("--format", choices=("raw", "qcow2"), default="raw")
        s.set_defaults(func=cmd_restore)

    s = sub.add_parser(
        "export-nbd", help="serve a disk read-only over NBD on a unix socket until interrupted"
    )
    s.add_argument("snapshot", help="SNAPSHOT/DISK, or SNAPSHOT when it has one disk")
    s.add_argument("--socket", required=True, help="unix socket path to listen on (removed at exit)")
    s.add_argument("--name", default="", help="export name (the default export is always served)")
    s.add_argument("--cache-mib", type=float, default=DEFAULT_CACHE_MIB, help="chunk cache size in MiB")
    s.add_argument("--workers", type=int, default=4, help="threads reading chunks")
    s.set_defaults(func=cmd_export_nbd)

    s = sub.add_parser("ls", help="list snapshots (or workloads, or one snapshot's disks)")
    s.add_argument("snapshot", nargs="?")
    s.add_argument("--workload", help="only this workload's snapshots")
    s.add_argument("--workloads", action="store_true", help="list workload ids")
    s.set_defaults(func=cmd_ls)

    s = sub.add_parser("delete", help="delete snapshots (SNAPSHOT or SNAPSHOT/DISK)")
    s.add_argument("snapshot", nargs="+")
    s.set_defaults(func=cmd_delete)

    s = sub.add_parser("gc", help="remove chunks no snapshot references")
    s.add_argument("--grace", type=float, default=3600.0, help="spare chunks younger than this (seconds)")
    s.add_argument("--dry-run", action="store_true")
    s.set_defaults(func=cmd_gc)

    s = sub.add_parser("key", help="a workload's own key: create it, rotate its secret, or show it")
    s.add_argument("action", choices=("create", "rotate", "show"))
    s.add_argument("workload")
    s.add_argument(
        "--secret-ref", help="id of the secret wrapping the key (create), or of the new one (rotate)"
    )
    s.add_argument("--new-secret-file", help="rotate: file holding the new secret")
    s.set_defaults(func=cmd_key)

    s = sub.add_parser("verify", help="check chunks are present (and with --read-data, intact)")
    s.add_argument("snapshot", nargs="?")
    s.add_argument("--read-data", action="store_true", help="re-read and re-hash every chunk")
    s.set_defaults(func=cmd_verify)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args))
    except (VaultError, BackendError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except json.JSONDecodeError as exc:
        print(f"{PROG}: error: bad JSON argument: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a local file the command was pointed at (not the repository's objects)
        print(f"{PROG}: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            f"{PROG}: interrupted at {dt.datetime.now():%H:%M:%S}; the unfinished snapshot is not kept",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
