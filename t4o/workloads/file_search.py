"""File search over a VM's snapshots (Trilio's ``POST /search``), straight from the vault.

The API side (``create``) checks what is asked and chooses the candidate snapshots at once, so a bad
request is a 400 or 404 and never a failed search: the VM's available snapshots in the caller's
project, newest first, filtered by ``snapshot_ids`` and the date range, then sliced ``[start:end]``.
It records the search ``executing`` and casts it to any workloads worker.

The worker side (``run``) searches each candidate snapshot: every disk of the VM in that snapshot,
every volume of it holding a filesystem the readers know (others, such as swap, are skipped),
opened through ``BROWSER`` (disks stay open between searches and browse calls). Snapshots are
searched a few at a time; each one's results are recorded as it finishes, with the progress. A
snapshot that cannot be searched gets its error in its own entry; the others go on.

An absolute path costs one stat per volume; a glob reads only the directories below its literal
prefix (``/etc/*.conf`` reads ``/etc``); a regex walks the whole filesystem.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol

from oslo_config import cfg

from t4o.common import errors, policy
from t4o.common.config import CONF
from t4o.common.context import RequestContext
from t4o.common.log import get_logger
from t4o.db import api as db
from t4o.db import search_api, states
from t4o.db.models import FileSearch, utcnow
from t4o.filerecovery import FileRecoveryError, SearchResult, Volume, search
from t4o.filerecovery.disk import READABLE
from t4o.filerecovery.entries import InvalidPath, normalize
from t4o.filerecovery.search import kind_of
from t4o.vault import VaultError
from t4o.workloads import encryption, rpcapi
from t4o.workloads.file_browser import BROWSER, FileBrowser, unlocker

LOG = get_logger(__name__)

ACTION = "snapshot:file_search"
RESULTS_PER_VOLUME = 1000  # matches kept per volume of one snapshot; more marks the volume truncated
MAX_LISTED = 1000  # searches one listing shows (the newest)
PARALLEL_SNAPSHOTS = 3  # snapshots searched at once by one search
# A search's worker stops at [file_recovery] search_timeout; one still executing this much later has
# lost its worker.
STALE_GRACE = dt.timedelta(seconds=60)
WORKER_STOPPED = "The workloads worker running the search stopped before it finished."
NOT_SEARCHED = "Not searched: the search ran out of time."


@dataclass(frozen=True)
class Criteria:
    """What a search asks for, as the API body gives it (checked)."""

    vm_id: str
    filepath: str
    snapshot_ids: list[str] | None = None
    start: int = 0
    end: int = 0
    date_from: str | None = None
    date_to: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "snapshot_ids": self.snapshot_ids,
            "start": self.start,
            "end": self.end,
            "date_from": self.date_from,
            "date_to": self.date_to,
        }


class SnapshotLike(Protocol):
    id: str
    status: str
    created_at: dt.datetime


# ---------------------------------------------------------------- checking a request
def search_pattern(filepath: str) -> str:
    """The pattern searched for ``filepath``: a path or glob naming directories (``etc/hosts``) is
    taken from the root, since a relative pattern matches a file's name only."""
    if kind_of(filepath) != "regex" and "/" in filepath.rstrip("/") and not filepath.startswith("/"):
        return "/" + filepath
    return filepath


def check_filepath(filepath: str) -> str:
    """BadRequest for a pattern no search can run; its kind (path, glob, regex) otherwise."""
    if not filepath.strip():
        raise errors.BadRequest("filepath must name a path, a glob or a regular expression.")
    try:
        normalize(filepath)  # refuses the characters the filesystem tools cannot be given
    except InvalidPath as exc:
        raise errors.BadRequest(f"Invalid filepath: {exc}.") from exc
    kind = kind_of(filepath)
    if kind == "regex":
        try:
            re.compile(filepath)
        except (re.error, RecursionError, OverflowError) as exc:  # deep nesting, huge repeat counts
            raise errors.BadRequest(
                f"filepath {filepath!r} is not a valid regular expression: {exc}."
            ) from exc
    return kind


def parse_when(text: str | None, name: str, end_of_day: bool = False) -> dt.datetime | None:
    """An ISO 8601 date or date-time as naive UTC; a bare date ends its day when ``end_of_day``."""
    if text is None or not text.strip():
        return None
    raw = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            day = dt.datetime.combine(dt.date.fromisoformat(raw), dt.time())
            return day + dt.timedelta(days=1, microseconds=-1) if end_of_day else day
        when = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if when.tzinfo is not None:
            when = when.astimezone(dt.UTC).replace(tzinfo=None)
    except (ValueError, OverflowError) as exc:  # OverflowError: an offset before year 1
        raise errors.BadRequest(f"{name} is not an ISO 8601 date or date-time: {text!r}.") from exc
    return when


def select_candidates(held: Sequence[SnapshotLike], criteria: Criteria, maximum: int) -> list[SnapshotLike]:
    """The snapshots to search among ``held`` (the VM's snapshots in the project, newest first):
    the available ones, filtered by ``snapshot_ids`` and dates, then sliced [start:end].
    BadRequest when none is left, when more than ``maximum`` are, or for contradictory criteria."""
    date_from = parse_when(criteria.date_from, "date_from")
    date_to = parse_when(criteria.date_to, "date_to", end_of_day=True)
    if date_from and date_to and date_from > date_to:
        raise errors.BadRequest(f"date_from {criteria.date_from} is after date_to {criteria.date_to}.")
    if criteria.end and criteria.end <= criteria.start:
        raise errors.BadRequest(
            f"end ({criteria.end}) must be more than start ({criteria.start}), or 0 for no end."
        )
    chosen = list(held)
    if criteria.snapshot_ids is not None:
        named = set(criteria.snapshot_ids)
        chosen = [s for s in chosen if s.id in named]
        for snap in chosen:
            if snap.status != states.AVAILABLE:
                raise errors.BadRequest(
                    f"Snapshot {snap.id} is {snap.status}: only available snapshots can be searched."
                )
    chosen = [s for s in chosen if s.status == states.AVAILABLE]
    if date_from is not None:
        chosen = [s for s in chosen if s.created_at >= date_from]
    if date_to is not None:
        chosen = [s for s in chosen if s.created_at <= date_to]
    chosen = chosen[criteria.start : criteria.end or None]
    if not chosen:
        raise errors.BadRequest(
            f"No available snapshot of VM {criteria.vm_id} matches the search's snapshot_ids, dates and "
            f"start/end ({len(held)} snapshot(s) of the VM in the project)."
        )
    if len(chosen) > maximum:
        raise errors.BadRequest(
            f"{len(chosen)} snapshots match; a search covers at most {maximum} ([file_recovery] "
            "search_max_snapshots): narrow it with snapshot_ids, date_from/date_to or start/end."
        )
    return chosen


def _snapshot_ids(raw: Any) -> list[str] | None:
    """Trilio's clients send a list, or a comma-separated string ("" for none)."""
    if raw is None:
        return None
    if isinstance(raw, str):
        ids = [part.strip() for part in raw.split(",") if part.strip()]
        return ids or None
    return [str(x) for x in raw] or None


def criteria_of(body: dict[str, Any]) -> Criteria:
    return Criteria(
        vm_id=str(body["vm_id"]),
        filepath=str(body["filepath"]),
        snapshot_ids=_snapshot_ids(body.get("snapshot_ids")),
        start=int(body.get("start") or 0),
        end=int(body.get("end") or 0),
        date_from=body.get("date_from") or None,
        date_to=body.get("date_to") or None,
    )


# ---------------------------------------------------------------- the API side
def _trusts_for_encrypted(ctx: RequestContext, workload_ids: set[str]) -> dict[str, str]:
    """workload id -> the trust with which the worker reads the Barbican secret of each encrypted
    workload (the search runs later, without the caller's token); a trust id is no secret."""
    out = {}
    for wid in sorted(workload_ids):
        workload = db.workload_get(wid, None)
        if workload.encryption:
            out[wid] = encryption.agent_trust(workload, ctx)
    return out


def create(ctx: RequestContext, criteria: Criteria, conf: cfg.ConfigOpts = CONF) -> FileSearch:
    """Checks the request, chooses the snapshots, records the search and casts it to a worker."""
    policy.authorize(ctx, ACTION)
    check_filepath(criteria.filepath)
    project_id = _project(ctx)
    held = search_api.snapshots_of_vm(project_id, criteria.vm_id)
    if not held:
        raise errors.NotFound(f"No snapshot of project {project_id} holds VM {criteria.vm_id}.")
    held_ids = {s.id for s in held}
    for sid in criteria.snapshot_ids or []:
        if sid not in held_ids:
            snap = db.snapshot_get(sid, project_id)  # NotFound for another project's
            raise errors.BadRequest(f"Snapshot {snap.id} does not hold VM {criteria.vm_id}.")
    chosen = select_candidates(held, criteria, conf.file_recovery.search_max_snapshots)
    if not _live_worker(conf):
        raise errors.Conflict("No workloads worker is running: no file search can run now.")
    row = search_api.search_create(
        {
            "project_id": project_id,
            "user_id": ctx.user_id or "",
            "vm_id": criteria.vm_id,
            "filepath": criteria.filepath,
            "criteria": {
                **criteria.as_dict(),
                "candidates": [s.id for s in chosen],
                "trusts": _trusts_for_encrypted(ctx, {str(s.workload_id) for s in held if s in chosen}),
            },
        }
    )
    LOG.info(
        "file search %s asked by user %s of project %s: %r in %d snapshot(s) of VM %s",
        row.id,
        ctx.user_id,
        project_id,
        criteria.filepath,
        len(chosen),
        criteria.vm_id,
    )
    try:
        rpcapi.run_file_search(ctx, row.id)
    except Exception as exc:  # the broker is unreachable: the search ends at once, saying why
        LOG.exception("file search %s could not be sent to a workloads worker", row.id)
        search_api.search_finish(row.id, search_api.ERROR, f"No workloads worker could be reached: {exc}")
        return search_api.search_get(row.id, None)
    return row


def _project(ctx: RequestContext) -> str:
    if not ctx.project_id:
        raise errors.Forbidden("A file search needs a project-scoped token.")
    return ctx.project_id


def _live_worker(conf: cfg.ConfigOpts, host: str | None = None) -> bool:
    """Whether a workloads worker (on ``host`` when given) sent a heartbeat lately."""
    cutoff = utcnow() - dt.timedelta(seconds=conf.service_down_time)
    return any(
        svc.updated_at >= cutoff and (host is None or svc.host == host)
        for svc in db.service_list(conf.workloads_topic)
    )


def resolve_stale(row: FileSearch, conf: cfg.ConfigOpts = CONF) -> FileSearch:
    """A search still executing past its time, or on a worker that stopped, is resolved as error."""
    if row.status != search_api.EXECUTING:
        return row
    timeout = dt.timedelta(seconds=conf.file_recovery.search_timeout)
    cutoff = utcnow() - timeout - STALE_GRACE
    resolved = 0
    if row.created_at < cutoff:
        resolved = search_api.searches_fail(
            f"{WORKER_STOPPED} It did not end within [file_recovery] search_timeout "
            f"({conf.file_recovery.search_timeout} s).",
            created_before=cutoff,
            search_id=row.id,
        )
    elif row.host and not _live_worker(conf, row.host):
        resolved = search_api.searches_fail(
            f"{WORKER_STOPPED} (no heartbeat from {row.host})", hosts=[row.host], search_id=row.id
        )
    if resolved:
        LOG.warning("file search %s resolved as error: its worker stopped", row.id)
        return search_api.search_get(row.id, None)
    return row


def get(ctx: RequestContext, search_id: str, conf: cfg.ConfigOpts = CONF) -> FileSearch:
    policy.authorize(ctx, ACTION)
    return resolve_stale(search_api.search_get(search_id, ctx.project_id), conf)


def list_searches(
    ctx: RequestContext, limit: int | None = None, conf: cfg.ConfigOpts = CONF
) -> list[FileSearch]:
    """The project's searches, newest first: the ``limit`` newest, at most MAX_LISTED."""
    policy.authorize(ctx, ACTION)
    limit = MAX_LISTED if limit is None else min(limit, MAX_LISTED)
    return [resolve_stale(row, conf) for row in search_api.search_list(_project(ctx), limit)]


# ---------------------------------------------------------------- result shaping
def partition_of(volume: Volume) -> int | str | None:
    """How a result names its volume: None for a filesystem on the whole disk, the partition number,
    or ``vg/lv`` for an LVM logical volume."""
    if volume.table == "lvm":
        return volume.name
    if volume.table == "none":
        return None
    return volume.index


def disk_result(disk: str, volume: Volume, result: SearchResult) -> dict[str, Any]:
    return {
        "disk": disk,
        "partition": partition_of(volume),
        "filesystem": volume.filesystem,
        "truncated": result.truncated,
        "entries": [e.as_dict() for e in result.entries],
    }


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="microseconds") + "Z" if value is not None else None


def snapshot_entry(
    snapshot_id: str,
    name: str = "",
    created_at: dt.datetime | None = None,
    disks: list[dict[str, Any]] | None = None,
    problems: Iterable[str] = (),
) -> dict[str, Any]:
    """One snapshot's entry of the results: completed, or error with what went wrong."""
    problems = list(problems)
    return {
        "snapshot_id": snapshot_id,
        "snapshot_name": name,
        "snapshot_created_at": _iso(created_at),
        "status": search_api.ERROR if problems else search_api.COMPLETED,
        "error_msg": "; ".join(problems) or None,
        "disks": disks or [],
    }


def match_count(json_resp: Iterable[dict[str, Any]]) -> int:
    return sum(len(d.get("entries") or []) for s in json_resp for d in s.get("disks") or [])


# ---------------------------------------------------------------- the worker side
def search_snapshot(
    browser: FileBrowser,
    project_id: str,
    vm_id: str,
    snapshot_id: str,
    pattern: str,
    trusts: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The entry of one snapshot: the matches of every readable volume of every disk of the VM (an
    encrypted workload's unlocked through the trust ``trusts`` names for it)."""
    try:
        snap = db.snapshot_get(snapshot_id, project_id)
    except errors.NotFound:
        return snapshot_entry(snapshot_id, problems=[f"Snapshot {snapshot_id} was deleted."])
    problems: list[str] = []
    disks: list[dict[str, Any]] = []
    vm = next((v for v in snap.vms if v.vm_id == vm_id), None)
    if snap.status != states.AVAILABLE:
        problems.append(f"Snapshot {snap.id} is {snap.status}.")
    elif vm is None:
        problems.append(f"Snapshot {snap.id} has no VM {vm_id}.")
    target_id, unlock = None, None
    if vm is not None and not problems:
        try:
            workload = db.workload_get(snap.workload_id, None)
        except errors.NotFound:
            problems.append(f"The workload of snapshot {snap.id} was deleted.")
        else:
            target_id = workload.backup_target_id
            trust = (trusts or {}).get(workload.id)
            owner = RequestContext(user_id=workload.user_id or None, project_id=project_id, trust_id=trust)
            unlock = unlocker(workload, owner)
            if unlock is not None and not trust:
                problems.append(f"Snapshot {snap.id} is of an encrypted workload that was not unlocked.")
    for record in (vm.disks or []) if vm is not None and not problems else []:
        ref = str(record.get("ref") or "")
        if not ref:  # a disk the snapshot did not back up
            continue
        target = str(record.get("target") or ref.rsplit("/", 1)[-1])
        try:
            with browser.lease(ref, target_id, unlock) as opened:
                for volume in opened.volumes:
                    if volume.filesystem not in READABLE:
                        continue  # swap, LVM PV (its LVs are volumes too), unknown: nothing to search
                    part = partition_of(volume)
                    where = f"disk {target}" + ("" if part is None else f" partition {part}")
                    try:
                        found = search(
                            opened.filesystem(volume.index), pattern, "/", "auto", RESULTS_PER_VOLUME
                        )
                    except FileRecoveryError as exc:
                        problems.append(f"{where}: {exc}")
                        continue
                    disks.append(disk_result(target, volume, found))
        except (FileRecoveryError, VaultError, OSError) as exc:
            problems.append(f"disk {target} cannot be read from the backup target: {exc}")
    return snapshot_entry(snap.id, snap.name, snap.created_at, disks, problems)


def _guarded(
    browser: FileBrowser, row: FileSearch, snapshot_id: str, pattern: str, deadline: float
) -> dict[str, Any]:
    """``search_snapshot`` that never raises: a failure is that snapshot's error."""
    if time.monotonic() >= deadline:
        return snapshot_entry(snapshot_id, problems=[NOT_SEARCHED])
    try:
        trusts = dict(row.criteria.get("trusts") or {})
        return search_snapshot(browser, row.project_id, row.vm_id, snapshot_id, pattern, trusts)
    except Exception as exc:
        LOG.exception("file search %s: snapshot %s failed", row.id, snapshot_id)
        return snapshot_entry(snapshot_id, problems=[f"The search of this snapshot failed: {exc}"])


def run(
    search_id: str,
    host: str,
    browser: FileBrowser = BROWSER,
    conf: cfg.ConfigOpts = CONF,
    parallel: int = PARALLEL_SNAPSHOTS,
) -> None:
    """Runs a search on this worker, recording each snapshot's results as it finishes."""
    if not search_api.search_claim(search_id, host):
        LOG.info("file search %s was resolved or taken before it started", search_id)
        return
    row = search_api.search_get(search_id, None)
    candidates: list[str] = list(row.criteria.get("candidates") or [])
    pattern = search_pattern(row.filepath)
    started = time.monotonic()
    age = (utcnow() - row.created_at).total_seconds()
    deadline = started + max(0.0, conf.file_recovery.search_timeout - age)
    LOG.info(
        "file search %s started on %s: %r (%s) in %d snapshot(s) of VM %s, project %s",
        search_id,
        host,
        row.filepath,
        kind_of(pattern),
        len(candidates),
        row.vm_id,
        row.project_id,
    )
    done: dict[int, dict[str, Any]] = {}
    stopped = False
    try:
        with ThreadPoolExecutor(max(1, parallel), thread_name_prefix=f"file-search-{search_id[:8]}") as pool:
            futures: dict[Future[dict[str, Any]], int] = {
                pool.submit(_guarded, browser, row, sid, pattern, deadline): i
                for i, sid in enumerate(candidates)
            }
            pending: set[Future[dict[str, Any]]] = set(futures)
            while pending and not stopped:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    done[futures[fut]] = fut.result()
                results = [done[i] for i in sorted(done)]
                if not search_api.search_progress(
                    search_id, len(done) * 100 // max(1, len(candidates)), results
                ):
                    stopped = True
                    for fut in pending:
                        fut.cancel()
    except Exception as exc:
        LOG.exception("file search %s failed", search_id)
        search_api.search_finish(search_id, search_api.ERROR, f"The search failed: {exc}")
        return
    results = [done[i] for i in sorted(done)]
    failed = [r for r in results if r["status"] == search_api.ERROR]
    seconds = time.monotonic() - started
    if stopped:
        LOG.info("file search %s was resolved elsewhere after %d snapshot(s)", search_id, len(done))
        return
    out_of_time = any(r["error_msg"] == NOT_SEARCHED for r in results)
    if out_of_time:
        status, message = (
            search_api.ERROR,
            (
                f"The search ran out of time ([file_recovery] search_timeout "
                f"{conf.file_recovery.search_timeout} s): {len(results) - len(failed)} of {len(results)} "
                "snapshot(s) searched."
            ),
        )
    elif failed and len(failed) == len(results):
        status, message = search_api.ERROR, f"No snapshot could be searched: {failed[0]['error_msg']}"
    else:
        status, message = search_api.COMPLETED, None
    search_api.search_finish(search_id, status, message, results)
    LOG.info(
        "file search %s %s in %.2f s: %d snapshot(s) searched, %d with errors, %d match(es)",
        search_id,
        status,
        seconds,
        len(results),
        len(failed),
        match_count(results),
    )


def fail_interrupted(host: str) -> int:
    """At a worker's start: the searches it ran before it stopped cannot go on."""
    return search_api.searches_fail(
        f"The workloads worker on {host} restarted during the search.", hosts=[host]
    )
