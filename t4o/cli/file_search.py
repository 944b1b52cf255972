"""``openstack workload file search`` (``workloadmgr file-search``, Trilio's ``filepath-search``):
search a VM's snapshots for a path, a glob or a regular expression, wait for the search with a
progress bar, then print what each snapshot holds (one row per file found)."""

from __future__ import annotations

import argparse
import sys
from typing import IO, Any

from t4o.cli import base
from t4o.cli.files import mtime_text
from t4o.cli.progress import ProgressBar
from t4o.client import Client, ClientError
from t4o.client.file_search import FileSearch, FileSearchManager, result_rows

RESULT_FIELDS = (
    "snapshot_id", "snapshot_name", "snapshot_created_at", "disk", "partition", "path", "type", "size",
    "mode", "mtime", "note",
)  # fmt: skip
RESULT_HEADERS = (
    "Snapshot ID", "Snapshot Name", "Snapshot Created", "Disk", "Partition", "Path", "Type", "Size", "Mode",
    "Modified", "Note",
)  # fmt: skip
LIST_FIELDS = ("id", "vm_id", "filepath", "status", "progress_percent", "created_at", "error_msg")
LIST_HEADERS = ("ID", "VM ID", "Filepath", "Status", "Progress", "Created At", "Error")


def searches(client: Client) -> FileSearchManager:
    return client.file_searches


def snapshot_ids(values: list[str] | None) -> list[str] | None:
    """--snapshot-ids given once or more, each a list separated by commas."""
    ids = [part.strip() for value in values or [] for part in value.split(",") if part.strip()]
    return ids or None


def results(search: FileSearch) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    # A row without a file (no match, an error) shows blanks, not None, in its file's columns.
    rows = [
        {**dict.fromkeys(RESULT_FIELDS, ""), **row, "mtime": mtime_text(row.get("mtime", ""))}
        for row in result_rows(search)
    ]
    return base.rows(rows, RESULT_FIELDS, RESULT_HEADERS)


def follow(client: Client, search: FileSearch, args: argparse.Namespace, stderr: IO[str]) -> FileSearch:
    """The search once it ends, a progress bar on ``stderr`` meanwhile."""
    bar = ProgressBar(stderr, f"Search {search['id'][:8]}")

    def progress(current: FileSearch) -> None:
        done = len(current.get("json_resp") or [])
        bar.update({**current, "progress_msg": f"{done} snapshot(s) searched"})

    try:
        return searches(client).wait(
            search["id"], on_progress=progress, interval=args.poll_interval, timeout=args.timeout
        )
    except KeyboardInterrupt:
        raise ClientError(
            f"Stopped waiting; file search {search['id']} goes on "
            f"(`openstack workload file search show {search['id']}`)."
        ) from None
    finally:
        bar.finish()


class SearchFiles(base.Lister):
    """Search a VM's snapshots for files: an absolute path (/etc/hosts), a name at any depth (hosts),
    a glob (/var/log/*.log, *.conf) or a regular expression over full paths (^/home/.*\\.txt$); waits
    for the search, then lists each snapshot's matches"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("vm_id_arg", nargs="?", metavar="<vm_id>", help="VM ID (or give --vm-id)")
        parser.add_argument(
            "filepath_arg", nargs="?", metavar="<filepath>", help="Path, glob or regex (or give --filepath)"
        )
        parser.add_argument(
            "--vm-id", "--vm_id", dest="vm_id", metavar="<vm_id>", help="The VM whose snapshots to search"
        )
        parser.add_argument(
            "--filepath", "--file-path", "--file_path", dest="filepath", metavar="<filepath>",
            help="What to find: a path, a glob or a regular expression",
        )  # fmt: skip
        parser.add_argument(
            "--snapshot-ids", "--snapshot_ids", "--snapshotids", dest="snapshot_ids", action="append",
            metavar="<snapshot_id>",
            help="Search only these snapshots (repeat the option, or separate IDs with commas)",
        )  # fmt: skip
        parser.add_argument(
            "--start", "--start_filter", dest="start", type=int, metavar="<N>",
            help="Skip the N newest of the matching snapshots",
        )  # fmt: skip
        parser.add_argument(
            "--end", "--end_filter", dest="end", type=int, metavar="<N>",
            help="Stop before the N-th newest of them (0: no end)",
        )  # fmt: skip
        parser.add_argument(
            "--date-from", "--date_from", dest="date_from", metavar="<date>",
            help="Only snapshots taken at or after this ISO 8601 date or date-time",
        )  # fmt: skip
        parser.add_argument(
            "--date-to", "--date_to", dest="date_to", metavar="<date>",
            help="Only snapshots taken at or before this date (that whole day) or date-time",
        )  # fmt: skip
        parser.add_argument(
            "--timeout", type=float, default=None, metavar="SECONDS",
            help="Give up waiting after this many seconds (the search goes on); default: none",
        )  # fmt: skip
        parser.add_argument(
            "--poll-interval", type=float, default=1.0, metavar="SECONDS",
            help="Seconds between two progress polls (default 1)",
        )  # fmt: skip
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        vm_id = args.vm_id or args.vm_id_arg
        filepath = args.filepath or args.filepath_arg
        if not vm_id or not filepath:
            raise ClientError("Give the VM (--vm-id) and what to find (--filepath).")
        for name in ("start", "end"):
            if getattr(args, name) is not None and getattr(args, name) < 0:
                raise ClientError(f"--{name} must be 0 or more.")
        search = searches(client).create(
            vm_id,
            filepath,
            snapshot_ids=snapshot_ids(args.snapshot_ids),
            start=args.start,
            end=args.end,
            date_from=args.date_from,
            date_to=args.date_to,
        )
        stderr: IO[str] = getattr(self.app, "stderr", None) or sys.stderr
        return results(follow(client, search, args, stderr))


class ShowFileSearch(base.Lister):
    """Show the matches of a file search so far (its status first, on standard error)"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("search", metavar="<search_id>", help="File search ID")
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        search = searches(client).get(args.search)
        stderr: IO[str] = getattr(self.app, "stderr", None) or sys.stderr
        error = f": {search.get('error_msg')}" if search.get("error_msg") else ""
        stderr.write(
            f"File search {search['id']} of {search.get('filepath')} in VM {search.get('vm_id')}: "
            f"{search.get('status')} {search.get('progress_percent')}%{error}\n"
        )
        stderr.flush()
        return results(search)


class ListFileSearch(base.Lister):
    """List the project's file searches, newest first"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--limit", type=int, metavar="<count>", help="Show only the newest <count> searches"
        )
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        params = {"limit": args.limit} if args.limit else {}
        return base.rows(searches(client).list(**params), LIST_FIELDS, LIST_HEADERS)
