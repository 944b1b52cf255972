"""File search over a VM's snapshots (``POST /search``): start one, follow it until it ends, and its
matches as rows (one per file found per snapshot, disk and volume)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from t4o.client import exceptions as exc
from t4o.client.base import Manager, Resource

FINAL = ("completed", "error")


class FileSearch(Resource):
    pass


class FileSearchManager(Manager[FileSearch]):
    resource_class = FileSearch
    path = "/search"
    key = "file_search"
    plural = "file_searches"
    noun = "file search"

    def create(
        self,
        vm_id: str,
        filepath: str,
        snapshot_ids: Sequence[str] | None = None,
        start: int | None = None,
        end: int | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
    ) -> FileSearch:
        """Starts a search for ``filepath`` (a path, a glob or a regular expression) in the VM's
        snapshots; it runs on a worker: follow it with :meth:`get` or :meth:`wait`."""
        body: dict[str, Any] = {"vm_id": vm_id, "filepath": filepath}
        optional = {
            "snapshot_ids": list(snapshot_ids) if snapshot_ids else None,
            "start": start,
            "end": end,
            "date_from": date_from,
            "date_to": date_to,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        return self._one(self.http.post(self.path, {"file_search": body}))

    def list(self, detail: bool = False, **params: Any) -> list[FileSearch]:
        """The project's searches, newest first, without their results (``limit``: the newest few)."""
        return self._many(self.http.get(self.path, **params))

    def wait(
        self,
        search_id: str,
        on_progress: Callable[[FileSearch], None] | None = None,
        interval: float = 1.0,
        timeout: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> FileSearch:
        """Polls the search until it ends; returns it when completed, raises JobFailed when it ends in
        error and WaitTimeout when ``timeout`` seconds pass first."""
        deadline = None if timeout is None else clock() + timeout
        while True:
            search = self.get(search_id)
            if on_progress is not None:
                on_progress(search)
            if search.get("status") == "completed":
                return search
            if search.get("status") == "error":
                raise exc.JobFailed(
                    f"File search {search_id} failed: {search.get('error_msg') or 'no message'}", search
                )
            if deadline is not None and clock() >= deadline:
                raise exc.WaitTimeout(
                    f"File search {search_id} is still {search.get('status')} after {timeout:g} s; "
                    f"follow it with `openstack workload file search show {search_id}`."
                )
            sleep(interval)


def result_rows(search: dict[str, Any]) -> list[dict[str, Any]]:
    """The matches of a search, one row per file found: its snapshot (ID, name, time), disk, volume
    and the file's fields (path, type, size, mode, mtime, ...). A snapshot without a match gives one
    row without a path, saying so; a snapshot that could not be searched, one with its error."""
    rows: list[dict[str, Any]] = []
    for snap in search.get("json_resp") or []:
        where = {
            "snapshot_id": snap.get("snapshot_id"),
            "snapshot_name": snap.get("snapshot_name"),
            "snapshot_created_at": snap.get("snapshot_created_at"),
        }
        found = 0
        for disk in snap.get("disks") or []:
            volume = {
                "disk": disk.get("disk"),
                "partition": disk.get("partition"),
                "filesystem": disk.get("filesystem"),
            }
            for entry in disk.get("entries") or []:
                found += 1
                rows.append({**where, **volume, **entry, "note": ""})
            if disk.get("truncated"):
                rows.append(
                    {**where, **volume, "note": "more matches than a search keeps: narrow the pattern"}
                )
        if snap.get("status") == "error":
            rows.append({**where, "note": f"error: {snap.get('error_msg') or 'no message'}"})
        elif not found:
            rows.append({**where, "note": "no match"})
    return rows
