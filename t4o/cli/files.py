"""``openstack workload snapshot browse|download`` (``workloadmgr snapshot-browse|snapshot-download``):
a snapshot disk's files without a restore. The VM and disk are found in the snapshot's record
(``instances[].vdisks[]``) when not given: its only VM, that VM's first disk.

A file name that is not UTF-8 is listed with U+FFFD for its undecodable bytes and, in a "Raw Path"
column, the exact bytes of its path in base64, which ``--path-raw`` takes; ``--path`` takes such a
path as the shell gives it (``--path $'/caf\\xe9.txt'`` in bash).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from t4o.cli import base
from t4o.cli.progress import TransferBar, human_bytes
from t4o.client import AmbiguousName, Client, ClientError
from t4o.client.files import Download, path_from_raw, shown

ENTRY_FIELDS = ("name", "type", "size", "mode", "mtime", "link_target")
ENTRY_HEADERS = ("Name", "Type", "Size", "Mode", "Modified", "Link Target")
VOLUME_FIELDS = ("partition", "start", "size", "filesystem", "table", "partition_type", "name")
VOLUME_HEADERS = ("Partition", "Start", "Size", "Filesystem", "Table", "Partition Type", "Name")


def _vm_names(instances: list[Mapping[str, Any]]) -> str:
    return ", ".join(f"{i.get('id')} ({i.get('name')})" for i in instances) or "none"


def locate(snapshot: Mapping[str, Any], vm: str | None, disk: str | None) -> tuple[str, str]:
    """(VM ID, disk) of a snapshot: ``vm`` by ID or name, or the snapshot's only VM; ``disk`` as
    given, or the VM's first disk (its target name, e.g. vda)."""
    sid = snapshot.get("id")
    instances: list[Mapping[str, Any]] = list(snapshot.get("instances") or [])
    if vm:
        matches = [i for i in instances if i.get("id") == vm] or [i for i in instances if i.get("name") == vm]
        if not matches:
            raise ClientError(f"Snapshot {sid} has no VM '{vm}'; its VMs: {_vm_names(instances)}.")
        if len(matches) > 1:
            ids = ", ".join(str(m.get("id")) for m in matches)
            raise AmbiguousName(
                f"{len(matches)} VMs of snapshot {sid} are named '{vm}' ({ids}); "
                "give the ID of the one you mean."
            )
        instance = matches[0]
    elif len(instances) == 1:
        instance = instances[0]
    elif not instances:
        raise ClientError(f"Snapshot {sid} has no VMs.")
    else:
        raise ClientError(
            f"Snapshot {sid} has {len(instances)} VMs ({_vm_names(instances)}): choose one with --vm."
        )
    vm_id = str(instance.get("id"))
    if disk:
        return vm_id, disk
    vdisks = [d for d in instance.get("vdisks") or [] if isinstance(d, Mapping)]
    if not vdisks:
        raise ClientError(f"VM {vm_id} of snapshot {sid} has no disks recorded.")
    first = vdisks[0]
    name = first.get("target") or first.get("volume_id") or str(first.get("ref") or "").rsplit("/", 1)[-1]
    return vm_id, str(name)


def partition(text: str) -> str:
    """argparse type of --partition: a number, or an LVM logical volume vg/lv."""
    text = text.strip()
    if text.isdigit() or (text.count("/") == 1 and all(text.split("/"))):
        return text
    raise argparse.ArgumentTypeError(f"expected a partition number or an LV name vg/lv, got {text!r}")


def add_disk_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("snapshot", metavar="<snapshot>", help="Snapshot (ID, or name when unique)")
    parser.add_argument(
        "--vm",
        "--vm-id",
        "--vm_id",
        dest="vm",
        metavar="<vm>",
        help="VM of the snapshot (ID or name); default: the snapshot's only VM",
    )
    parser.add_argument(
        "--disk",
        metavar="<disk>",
        help="Disk of the VM: its target name (vda, vdb), or its volume ID; default: the VM's first disk",
    )
    parser.add_argument(
        "--partition",
        type=partition,
        metavar="<partition>",
        help="0 for a filesystem on the whole disk, 1.. for partitions, 101.. or vg/lv for LVM logical "
        "volumes; default: the first volume holding a filesystem T4O reads (ext2/3/4, xfs)",
    )


def raw_path(text: str) -> str:
    """argparse type of --path-raw: the base64 of a path's exact bytes."""
    try:
        return path_from_raw(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected the base64 of a path's bytes: {err}") from err


def add_path_options(parser: argparse.ArgumentParser, default: str | None, help_path: str) -> None:
    """--path, or --path-raw for a path given by its exact bytes (a name that is not UTF-8); one of
    them is required when there is no default."""
    group = parser.add_mutually_exclusive_group(required=default is None)
    group.add_argument("--path", default=default, metavar="<path>", help=help_path)
    group.add_argument(
        "--path-raw",
        type=raw_path,
        dest="path_raw",
        metavar="<base64>",
        help="The path as the base64 of its exact bytes, instead of --path: for a name that is not "
        "UTF-8 (the path_raw of a listed entry)",
    )


def path_of(args: argparse.Namespace) -> str:
    return str(args.path_raw if args.path_raw is not None else args.path)


def mtime_text(value: Any) -> Any:
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


class BrowseSnapshot(base.Lister):
    """List a directory of a snapshot disk (or, with --volumes, the disk's partitions and logical
    volumes), read straight from the backup target"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_disk_options(parser)
        add_path_options(parser, "/", "Directory to list (default /); symlinks are followed")
        parser.add_argument(
            "--volumes",
            action="store_true",
            help="List the disk's volumes (partitions, LVM logical volumes, their filesystems) instead",
        )
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        snapshot = client.snapshots.find(args.snapshot)
        vm_id, disk = locate(snapshot, args.vm, args.disk)
        path = path_of(args)
        listing = client.snapshots.browse(snapshot.id, vm_id, disk, path, args.partition)
        if args.volumes:
            return base.rows(listing.get("volumes") or [], VOLUME_FIELDS, VOLUME_HEADERS)
        entries = [{**e, "mtime": mtime_text(e.get("mtime"))} for e in listing.get("entries") or []]
        if any("name_raw" in e for e in entries):  # names that are not UTF-8: their exact bytes too
            return base.rows(entries, (*ENTRY_FIELDS, "path_raw"), (*ENTRY_HEADERS, "Raw Path"))
        return base.rows(entries, ENTRY_FIELDS, ENTRY_HEADERS)


def target_of(output: str | None, filename: str) -> tuple[Path, bool]:
    """Where a download goes, and whether the user named that file (which may then be replaced):
    ``--output FILE``; in ``--output DIR`` or the current directory, the API's name for it."""
    if output is None:
        return Path(filename), False
    path = Path(output)
    if path.is_dir():
        return path / filename, False
    return path, True


def save(download: Download, target: Path, bar: TransferBar) -> None:
    """The download into ``target`` through ``target.part``, renamed once complete; the part is
    removed whatever stops it (an error, the connection, Ctrl-C)."""
    part = target.with_name(target.name + ".part")
    try:
        try:
            out = open(part, "wb")  # noqa: SIM115 - closed below, before the rename
        except OSError as err:
            raise ClientError(f"Cannot write {part}: {err.strerror or err}.") from err
        with out:
            try:
                download.write_to(out, bar.update)
            except OSError as err:
                raise ClientError(
                    f"Cannot write {part} after {download.received} bytes: {err.strerror or err}."
                ) from err
        os.replace(part, target)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    finally:
        bar.finish()


class DownloadSnapshot(base.Command):
    """Download a file of a snapshot disk, or a directory as a tar file, straight from the backup
    target (a progress bar on a terminal; a line with the bytes and time at the end)"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_disk_options(parser)
        add_path_options(parser, None, "File or directory to download (a directory comes as a tar of it)")
        parser.add_argument(
            "--output",
            "-o",
            metavar="<file>",
            help="Where to write it: a file (replaced if it exists), a directory to write into, or - for "
            "standard output; default: the file's name (<directory>.tar) in the current directory, which "
            "must not exist yet",
        )
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        snapshot = client.snapshots.find(args.snapshot)
        vm_id, disk = locate(snapshot, args.vm, args.disk)
        stderr: IO[str] = getattr(self.app, "stderr", None) or sys.stderr
        path = path_of(args)
        with client.snapshots.open_download(snapshot.id, vm_id, disk, path, args.partition) as download:
            bar = TransferBar(stderr, shown(download.filename))
            if args.output == "-":
                where = "standard output"
                try:
                    download.write_to(sys.stdout.buffer, bar.update)
                    sys.stdout.buffer.flush()
                except OSError as err:
                    raise ClientError(f"Cannot write to standard output: {err.strerror or err}.") from err
                finally:
                    bar.finish()
            else:
                target, named = target_of(args.output, download.filename)
                if not named and target.exists():
                    raise ClientError(
                        f"{target} exists: give --output {target} to replace it, or another --output."
                    )
                save(download, target, bar)
                where = shown(str(target))
        what = f"{shown(path)} (a directory, as tar)" if download.is_directory else shown(path)
        rate = f", {human_bytes(download.received / download.seconds)}/s" if download.seconds > 0 else ""
        stderr.write(
            f"Downloaded {what} to {where}: {download.received} bytes ({human_bytes(download.received)}) "
            f"in {download.seconds:.2f} s{rate}\n"
        )
        stderr.flush()
