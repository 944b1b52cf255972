"""Snapshots: point-in-time copies of a workload (a job to poll while it runs); their disks' files
(browse a directory, download a file or a directory as tar)."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import IO, Any

from t4o.client import exceptions as exc
from t4o.client.base import Manager, Resource
from t4o.client.files import Download, Progress, path_query, range_header


class Snapshot(Resource):
    def vm_hooks(self) -> list[dict[str, Any]]:
        """What each VM's guest hooks did (``instances[].metadata.guest_hooks``), one dict per VM of the
        detailed snapshot: ``vm_id``, ``vm_name``, the ``consistency`` its point reached and why
        (``consistency_reason``), and, when hooks ran, their ``timeout``, ``on_failure`` and ``results``
        (each: ``phase``, ``command``, ``source``, ``status``, ``exit_code``, ``signal``,
        ``duration_seconds``, ``stdout``, ``stderr`` (their last bytes), ``stdout_truncated``,
        ``stderr_truncated``, ``reason``); ``results`` is None for a VM without hooks."""
        out = []
        for inst in self.get("instances") or []:
            record = inst.get("metadata")
            record = record if isinstance(record, dict) else {}
            hooks = record.get("guest_hooks")
            hooks = hooks if isinstance(hooks, dict) else {}
            results = hooks.get("results")
            if isinstance(results, list):
                results = [r for r in results if isinstance(r, dict)]
            out.append(
                {
                    "vm_id": inst.get("id"),
                    "vm_name": inst.get("name"),
                    "consistency": record.get("consistency"),
                    "consistency_reason": record.get("consistency_reason") or "",
                    "timeout": hooks.get("timeout"),
                    "on_failure": hooks.get("on_failure"),
                    "results": results if isinstance(results, list) else None,
                }
            )
        return out


class SnapshotManager(Manager[Snapshot]):
    resource_class = Snapshot
    path = "/snapshots"
    key = "snapshot"
    plural = "snapshots"
    noun = "snapshot"
    list_hint = "openstack workload snapshot list"

    def list(
        self,
        detail: bool = False,
        *,
        workload_id: str | None = None,
        status: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        all_projects: bool = False,
        **params: Any,
    ) -> list[Snapshot]:
        params.update(workload_id=workload_id, status=status, date_from=date_from, date_to=date_to)
        if all_projects:
            params["all"] = "true"
        return super().list(detail, **params)

    def delete(self, snapshot_id: str) -> None:
        self.http.delete(f"{self.path}/{snapshot_id}")

    def cancel(self, snapshot_id: str) -> Snapshot:
        return self._one(self.http.get(f"{self.path}/{snapshot_id}/cancel"))

    def _disk_path(self, snapshot: str | Mapping[str, Any], vm_id: str, disk: str, what: str) -> str:
        snapshot_id = snapshot if isinstance(snapshot, str) else str(snapshot["id"])
        parts = (urllib.parse.quote(str(p), safe="") for p in (snapshot_id, vm_id, disk))
        return "{}/{}/vms/{}/disks/{}/{}".format(self.path, *parts, what)

    def browse(
        self,
        snapshot: str | Mapping[str, Any],
        vm_id: str,
        disk: str,
        path: str = "/",
        partition: int | str | None = None,
    ) -> Resource:
        """A directory of a snapshot disk: ``{path, partition, filesystem, volumes, entries}``
        (``entries``: name, path, type, size, mode, mtime, uid, gid, link_target)."""
        body = self.http.request(
            "GET",
            self._disk_path(snapshot, vm_id, disk, "browse"),
            params={**path_query(path or "/"), "partition": None if partition is None else str(partition)},
        )
        return Resource(body["browse"])

    def open_download(
        self,
        snapshot: str | Mapping[str, Any],
        vm_id: str,
        disk: str,
        path: str,
        partition: int | str | None = None,
        offset: int | None = None,
        length: int | None = None,
    ) -> Download:
        """Starts a download: the API's answer with its headers (name, length), its body not read yet.
        A directory comes as a tar stream; ``offset``/``length`` read a part of a file."""
        rng = range_header(offset, length)
        resp = self.http.open_stream(
            self._disk_path(snapshot, vm_id, disk, "download"),
            params={**path_query(path), "partition": None if partition is None else str(partition)},
            headers={"Range": rng} if rng else None,
        )
        download = Download(resp, path)
        if rng and download.status != 206:
            download.close()
            raise exc.ApiError(download.status, f"The API did not answer the range {rng} of {path}.")
        return download

    def download(
        self,
        snapshot: str | Mapping[str, Any],
        vm_id: str,
        disk: str,
        path: str,
        partition: int | str | None = None,
        *,
        out: IO[bytes],
        progress: Progress | None = None,
        offset: int | None = None,
        length: int | None = None,
    ) -> Download:
        """Writes a file of a snapshot disk (a directory: its tar stream) to ``out`` as it arrives;
        ``progress(bytes_written, bytes_expected_or_None)`` after each piece. Returns the finished
        Download (``received`` bytes, ``seconds``, ``filename``); IncompleteDownload when it stopped."""
        with self.open_download(snapshot, vm_id, disk, path, partition, offset, length) as download:
            download.write_to(out, progress)
        return download
