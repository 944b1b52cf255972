"""Disaster recovery's rules: workloads on the backup target brought (back) into the database, the ones
whose project or user is gone, and moving workloads to another project (Trilio's import, orphan and
reassign calls; all administrator-only).

Import reads nothing but the targets: the workload documents and each snapshot's document with its VM
records (t4o.workloads.documents). Every backup target T4O knows is read (the configured one and those
defined through ``/backup_targets``), or the one a call names; a workload comes in on the target it was
found on. It inserts only rows that do not exist, so importing twice changes
nothing, and a later import picks up the snapshots taken since. A workload deleted from the database
only (``database_only``: its backups kept) comes back with the snapshots the target still holds. An
encrypted workload's documents are unlocked with its secret read as the caller (importer_keys); one
whose secret the caller cannot read is reported as failed, naming the secret, and nothing of it is
inserted.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from t4o.common import errors, policy
from t4o.common.context import RequestContext
from t4o.common.log import get_logger
from t4o.db import api as db
from t4o.db import backup_target_api as targets_db
from t4o.db import states
from t4o.openstack.cloud import Cloud, get_cloud
from t4o.vault import (
    BackendError,
    Repository,
    TargetUnavailable,
    VaultError,
)
from t4o.workloads import documents, targets
from t4o.workloads.importer_keys import Locked, Unlocker, read_doc

LOG = get_logger(__name__)

# The columns of a snapshot's VM record (SnapshotVM) a document's record may fill.
_VM_KEYS = ("vm_id", "vm_name", "status", "size", "definition", "disks")


@dataclass
class TargetWorkload:
    """One workload as the backup target holds it."""

    id: str
    document: dict[str, Any]
    snapshots: list[dict[str, Any]] = field(default_factory=list)  # snapshot documents, oldest first
    backup_target_id: str | None = None  # where it was found (None: the configured target)
    secret_ref: str | None = None  # encrypted with its own key: the secret that wraps it
    locked: str | None = None  # its key could not be unlocked: why (its documents are unread)

    @property
    def project_id(self) -> str:
        return str(self.document.get("project_id") or "")

    @property
    def user_id(self) -> str:
        return str(self.document.get("user_id") or "")

    def last_snapshot_at(self) -> str | None:
        """When its newest snapshot was taken (T4O's time in the document, else the vault's), ISO 8601."""
        times = [
            documents.parse_time((doc.get("metadata") or {}).get("created_at") or doc.get("created"))
            for doc in self.snapshots
        ]
        newest = max((t for t in times if t is not None), default=None)
        return newest.isoformat(timespec="seconds") + "Z" if newest is not None else None

    def summary(self, in_database: dict[str, bool]) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.document.get("name", ""),
            "description": self.document.get("description", ""),
            "project_id": self.project_id,
            "user_id": self.user_id,
            "snapshots": len(self.snapshots),
            "last_snapshot_at": self.last_snapshot_at(),
            "vms": [vm.get("id") for vm in self.document.get("vms") or []],
            "in_database": self.id in in_database and not in_database[self.id],
            "deleted_in_database": in_database.get(self.id, False),
            "backup_target_id": self.backup_target_id or targets.CONFIG_TARGET_ID,
            "encrypted": bool(self.secret_ref or self.locked or self.document.get("encryption")),
            **({"error": self.locked} if self.locked else {}),
        }


# Threads reading documents: an S3 GET waits on the network, a posix read on the (NFS) server; JSON
# parsing holds the GIL, so more threads than this only queue.
READERS = 8
# Workloads per database transaction of an import (each with its snapshots: about ten rows apiece).
IMPORT_BATCH = 50
_WORKLOADS, _SNAPSHOTS, _DISKS = "workloads/", "snapshots/", "disks"


class _Reads:
    """The documents of a target read while it is listed: each document is read on READERS threads as
    soon as the listing names it, so the network waits of the reads overlap the listing's pages."""

    def __init__(self, repo: Repository, wanted: set[str] | None, unlocker: Unlocker | None) -> None:
        self.repo = repo
        self.wanted = wanted
        self.unlocker = unlocker
        self.workloads: dict[str, Future[dict[str, Any] | Locked | None]] = {}
        self.snapshots: dict[str, Future[dict[str, Any] | Locked | None]] = {}
        self.disks: dict[str, list[str]] = {}

    def run(self, pool: ThreadPoolExecutor) -> None:
        """One key listing per prefix (docs/vault-format.md's layout): the workload documents, then the
        snapshots with at least one disk manifest (a snapshot without one does not exist)."""
        for key in self.repo.backend.list_keys(_WORKLOADS):
            wid = key[len(_WORKLOADS) : -len(".json")]
            if key.endswith(".json") and "/" not in wid and (self.wanted is None or wid in self.wanted):
                self.workloads[wid] = pool.submit(read_doc, self.repo, key, self.unlocker)
        for key in self.repo.backend.list_keys(_SNAPSHOTS):
            parts = key.split("/")
            if len(parts) == 4 and parts[2] == _DISKS and parts[3].endswith(".json"):
                sid = parts[1]
                if sid not in self.disks:
                    self.disks[sid] = []
                    self.snapshots[sid] = pool.submit(
                        read_doc, self.repo, f"{_SNAPSHOTS}{sid}/snapshot.json", self.unlocker
                    )
                self.disks[sid].append(parts[3][: -len(".json")])


def read_target(
    repo: Repository, workload_ids: Iterable[str] | None = None, unlocker: Unlocker | None = None
) -> list[TargetWorkload]:
    """The workloads on the target (or these of them) with their snapshot documents: one listing per
    prefix, every document read once, in parallel with the listing. A workload without its document
    (written before the snapshot finished) is left out; a document of a newer format stops the read
    with a clear message. A listed workload the target lacks is left out. An encrypted workload is
    unlocked through ``unlocker``; one that cannot be comes back ``locked``, with the reason."""
    wanted = set(workload_ids) if workload_ids is not None else None
    if unlocker is not None:
        unlocker.only = wanted
    reads = _Reads(repo, wanted, unlocker)
    pool = ThreadPoolExecutor(READERS, thread_name_prefix="import-read")
    try:
        reads.run(pool)
        by_workload: dict[str, list[dict[str, Any]]] = {}
        locked: dict[str, str] = {}  # workload id: why its documents cannot be read
        for sid, future in reads.snapshots.items():
            snap = future.result()
            if isinstance(snap, Locked):  # counted for the listing only
                locked.setdefault(snap.workload_id, snap.reason)
                snap = {"snapshot_id": sid, "workload_id": snap.workload_id, "locked": True}
            wid = str((snap or {}).get("workload_id") or "")
            if snap is not None and wid and (wanted is None or wid in wanted):
                by_workload.setdefault(wid, []).append({**snap, "disks": sorted(reads.disks[sid])})
        docs = {wid: future.result() for wid, future in reads.workloads.items()}
    finally:
        pool.shutdown(cancel_futures=True)
    found = []
    for wid in sorted(set(docs) | set(by_workload)):
        doc = docs.get(wid)
        if doc is None:
            LOG.warning("workload %s has snapshots on the target but no workload document", wid)
            continue
        if isinstance(doc, Locked) or wid in locked:
            reason = doc.reason if isinstance(doc, Locked) else locked[wid]
            found.append(TargetWorkload(wid, {}, by_workload.get(wid, []), locked=reason))
            continue
        documents.check_version(doc, f"The workload document of {wid}")
        snaps = sorted(by_workload.get(wid, []), key=lambda d: (str(d.get("created")), d["snapshot_id"]))
        for snap in snaps:
            documents.check_version(
                snap.get("metadata") or {}, f"The snapshot document of {snap['snapshot_id']}"
            )
        refs = unlocker.refs if unlocker is not None else {}
        found.append(TargetWorkload(wid, doc, snaps, secret_ref=refs.get(wid)))
    return found


def workload_values(wl: TargetWorkload, type_ids: set[str], default_type: str) -> dict[str, Any]:
    doc = wl.document
    type_id = str(doc.get("workload_type_id") or "")
    values: dict[str, Any] = {
        "id": wl.id,
        "project_id": wl.project_id,
        "user_id": wl.user_id,
        "name": doc.get("name") or "",
        "description": doc.get("description") or "",
        "workload_type_id": type_id if type_id in type_ids else default_type,
        "source_platform": doc.get("source_platform") or "openstack",
        "status": states.AVAILABLE,
        "jobschedule": doc.get("jobschedule") or {},
        "metadata_": doc.get("metadata") or {},
        # The key object names the secret wrapping the key now (a rotation since the document changes it).
        "encryption": bool(doc.get("encryption") or wl.secret_ref),
        "secret_uuid": wl.secret_ref or doc.get("secret_uuid"),
        "backup_target_id": wl.backup_target_id,
    }
    created = documents.parse_time(doc.get("created_at"))
    if created is not None:
        values["created_at"] = created
    return values


def workload_vms(wl: TargetWorkload) -> list[dict[str, Any]]:
    return [
        {"vm_id": vm["id"], "vm_name": vm.get("name") or "", "volume_count": vm.get("volume_count", 0)}
        for vm in wl.document.get("vms") or []
        if vm.get("id")
    ]


def snapshot_values(wl: TargetWorkload, doc: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A snapshot row and its VM records from its document: the workload's project (which a reassign
    changes), the snapshot's own sizes, times and type."""
    meta = doc.get("metadata") or {}
    records = [{k: r[k] for k in _VM_KEYS if k in r} for r in meta.get("vms") or []]
    created = documents.parse_time(meta.get("created_at") or doc.get("created"))
    started = documents.parse_time(meta.get("started_at"))
    finished = documents.parse_time(meta.get("finished_at"))
    values: dict[str, Any] = {
        "id": doc["snapshot_id"],
        "workload_id": wl.id,
        "project_id": wl.project_id,
        "user_id": meta.get("user_id") or wl.user_id,
        "name": meta.get("name") or "",
        "description": meta.get("description") or "",
        "snapshot_type": meta.get("snapshot_type") or "full",
        "status": states.AVAILABLE,
        "progress_percent": 100,
        "progress_msg": "Imported from the backup target",
        "warning_msg": "; ".join(meta.get("notes") or []) or None,
        "size": int(meta.get("size") or sum(int(r.get("size") or 0) for r in records)),
        "uploaded_size": int(meta.get("uploaded_size") or 0),
        "host": meta.get("host"),
        "started_at": started,
        "finished_at": finished,
        "time_taken": (finished - started).total_seconds() if started and finished else 0.0,
        "metadata_": meta.get("metadata") or {},
    }
    if created is not None:
        values["created_at"] = created
    return values, records


@dataclass(frozen=True)
class Types:
    """The workload types of this database: one a workload of the target names, else Serial (a custom
    type of the lost database)."""

    ids: frozenset[str]
    default: str

    @classmethod
    def load(cls) -> Types:
        types = db.workload_type_list()
        default = next((t.id for t in types if t.name == "Serial"), types[0].id if types else "")
        return cls(frozenset(t.id for t in types), default)


def _rows(wl: TargetWorkload, types: Types) -> tuple[dict[str, Any], list[dict[str, Any]], list[Any]]:
    """What db.workload_import inserts for a workload of the target."""
    return (
        workload_values(wl, set(types.ids), types.default),
        workload_vms(wl),
        [snapshot_values(wl, doc) for doc in wl.snapshots],
    )


Opener = Callable[[], Repository]


class ImportAPI:
    """The rules of import, orphans and reassign, called by the REST handlers."""

    def __init__(self, cloud: Cloud | None = None, open_target: Opener | None = None) -> None:
        self._cloud = cloud
        # Given: the one target to read (tests, benchmarks); else every target T4O knows.
        self._open_target = open_target

    @property
    def cloud(self) -> Cloud:
        if self._cloud is None:
            self._cloud = get_cloud()
        return self._cloud

    def _sources(self, target_id: str | None = None) -> list[tuple[str | None, str, Opener]]:
        """(target id or None for the configured one, its name, opener) of each target a call reads:
        the one named, else the configured one (when set) and every one defined through the API."""
        if self._open_target is not None:
            return [(None, "configured", self._open_target)]
        if target_id:
            try:
                chosen = [targets.get(target_id)]
            except errors.NotFound:
                raise errors.BadRequest(f"backup_target_id: no backup target {target_id}.") from None
        else:
            defined = [targets.from_row(row) for row in targets_db.target_list()]
            chosen = [targets.configured_target(), *defined]
        out: list[tuple[str | None, str, Opener]] = []
        for target in chosen:
            if not target.url:
                continue  # no [backup_target] url: targets are defined through the API only
            tid = None if target.id == targets.CONFIG_TARGET_ID else target.id
            out.append((tid, target.name, functools.partial(targets.open_target, target)))
        if not out:
            raise errors.Conflict("No backup target is configured or defined: there is nothing to read.")
        return out

    @contextlib.contextmanager
    def _opened(self, name: str, opener: Opener) -> Iterator[Repository]:
        """A target for one call, its backend closed afterwards (an S3 client's connections)."""
        try:
            repo = opener()
        except TargetUnavailable as exc:
            raise errors.Conflict(f"{exc} (backup target '{name}')") from None
        try:
            yield repo
        finally:
            repo.backend.close()

    def _per_target(
        self, ctx: RequestContext, workload_ids: Iterable[str] | None = None, target_id: str | None = None
    ) -> Iterator[tuple[Repository, list[TargetWorkload]]]:
        """Each target read, open while the caller works on it, with the workloads first found there
        (a workload on two targets is the first one's), each knowing its target; once all are read,
        NotFound names the listed workloads no target holds. Encrypted workloads are unlocked with
        their secrets read as ``ctx``'s user."""
        wanted = list(workload_ids) if workload_ids is not None else None
        seen: set[str] = set()
        for tid, name, opener in self._sources(target_id):
            with self._opened(name, opener) as repo:
                fresh = [
                    wl for wl in self._read_from(repo, name, wanted, Unlocker(repo, ctx)) if wl.id not in seen
                ]
                for wl in fresh:
                    wl.backup_target_id = tid
                    seen.add(wl.id)
                yield repo, fresh
        missing = set(wanted or ()) - seen
        if missing:
            raise errors.NotFound(f"Workload(s) not on any backup target: {', '.join(sorted(missing))}.")

    def _read(
        self, ctx: RequestContext, workload_ids: Iterable[str] | None = None, target_id: str | None = None
    ) -> list[TargetWorkload]:
        """The workloads of every target read (or of the one named), in id order."""
        found = [wl for _, on_target in self._per_target(ctx, workload_ids, target_id) for wl in on_target]
        return sorted(found, key=lambda wl: wl.id)

    @staticmethod
    def _read_from(
        repo: Repository, name: str, workload_ids: Iterable[str] | None, unlocker: Unlocker
    ) -> list[TargetWorkload]:
        try:
            return read_target(repo, workload_ids, unlocker)
        except (VaultError, BackendError) as exc:
            raise errors.Conflict(f"The backup target '{name}' cannot be read: {exc}") from None

    def importable(self, ctx: RequestContext, target_id: str | None = None) -> list[dict[str, Any]]:
        """Every workload on the targets (or the one named), saying whether the database has it."""
        policy.authorize(ctx, "workload:get_import_workloads_list")
        found = self._read(ctx, target_id=target_id)
        present = db.workloads_in_database([w.id for w in found])
        return [w.summary(present) for w in found]

    def import_workloads(
        self, ctx: RequestContext, workload_ids: list[str] | None, target_id: str | None = None
    ) -> dict[str, Any]:
        """Insert the listed workloads (all when None) and their snapshots that the database lacks, from
        every target (or the one named)."""
        policy.authorize(ctx, "workload:import_workloads")
        found = self._read(ctx, workload_ids or None, target_id)
        types = Types.load()
        imported: list[dict[str, Any]] = []
        updated: list[dict[str, Any]] = []
        unchanged: list[dict[str, Any]] = []
        # Encrypted workloads whose key could not be unlocked: nothing of them is inserted.
        failed = [{"id": wl.id, "name": "", "error": wl.locked} for wl in found if wl.locked]
        found = [wl for wl in found if not wl.locked]
        for start in range(0, len(found), IMPORT_BATCH):
            batch = found[start : start + IMPORT_BATCH]
            results = db.workloads_import([_rows(wl, types) for wl in batch])
            for wl, result in zip(batch, results, strict=True):
                if isinstance(result, errors.T4OError):
                    failed.append({"id": wl.id, "error": str(result)})
                    continue
                created, added = result
                entry = {"id": wl.id, "name": wl.document.get("name", ""), "snapshots": added}
                (imported if created else updated if added else unchanged).append(entry)
        LOG.info(
            "import from the backup target: %d workload(s) imported, %d with new snapshots, %d unchanged, "
            "%d failed",
            len(imported),
            len(updated),
            len(unchanged),
            len(failed),
        )
        return {"imported": imported, "updated": updated, "unchanged": unchanged, "failed": failed}

    def orphans(self, ctx: RequestContext, migrate_cloud: bool = False) -> list[dict[str, Any]]:
        """Workloads on the target whose project or user Keystone no longer has (with ``migrate_cloud``:
        all of them, as workloads of another cloud are orphans here by definition)."""
        policy.authorize(ctx, "workload:get_orphaned_workloads_list")
        found = self._read(ctx)
        present = db.workloads_in_database([w.id for w in found])
        if migrate_cloud:
            return [w.summary(present) for w in found]
        found = [w for w in found if not w.locked]  # their project is sealed with their key
        projects, users = self.cloud.missing_identities(
            ctx, {w.project_id for w in found}, {w.user_id for w in found if w.user_id}
        )
        out = []
        for wl in found:
            gone = [
                k
                for k, lost in (("project", wl.project_id in projects), ("user", wl.user_id in users))
                if lost
            ]
            if gone:
                out.append({**wl.summary(present), "missing": gone})
        return out

    def reassign(
        self,
        ctx: RequestContext,
        workload_ids: list[str],
        new_project_id: str | None,
        user_id: str | None,
        migrate_cloud: bool = False,
        project_map: dict[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """Move workloads to another project and user: their rows (importing the ones the database lacks)
        and their documents on the target, so a later import lands them in the new project too. With
        ``project_map``, each workload of an old project goes to its new one."""
        policy.authorize(ctx, "workload:reassign_workloads")
        if not new_project_id and not project_map:
            raise errors.BadRequest("Give new_tenant_id or a map of old to new project ids.")
        if not workload_ids and not project_map:
            raise errors.BadRequest("List the workloads to move, or the projects whose workloads move.")
        out: list[dict[str, Any]] = []
        for repo, on_target in self._per_target(ctx, workload_ids or None):
            out += self._reassign(repo, on_target, new_project_id, user_id, project_map)
        if workload_ids and not out:
            raise errors.BadRequest(
                "No listed workload's project is in the map, and no new_tenant_id is given."
            )
        return out

    def _reassign(
        self,
        repo: Repository,
        found: list[TargetWorkload],
        new_project_id: str | None,
        user_id: str | None,
        project_map: dict[str, str] | None,
    ) -> list[dict[str, Any]]:
        """Moves the workloads ``found`` on ``repo``."""
        locked = [f"{wl.id}: {wl.locked}" for wl in found if wl.locked]
        if locked:
            raise errors.BadRequest(f"Encrypted workloads cannot be moved unread: {'; '.join(locked)}")
        moves = []
        for wl in found:
            project = (project_map or {}).get(wl.project_id) or new_project_id
            if not project:
                continue
            user = user_id or wl.user_id
            moves.append((wl, project, user))
        present = db.workloads_in_database([w.id for w, _, _ in moves])
        out = []
        for wl, project, user in moves:
            old = wl.project_id
            wl.document = {**wl.document, "project_id": project, "user_id": user}
            repo.put_workload(wl.id, wl.document)
            if present.get(wl.id) is False:
                db.workload_reassign(wl.id, project, user)
            else:
                # Not in the database (another cloud's, lost, or deleted there only): it comes in moved.
                db.workload_import(*_rows(wl, Types.load()))
            LOG.info("workload %s reassigned from project %s to %s (user %s)", wl.id, old, project, user)
            out.append(
                {
                    "id": wl.id,
                    "name": wl.document.get("name", ""),
                    "old_project_id": old,
                    "project_id": project,
                    "user_id": user,
                }
            )
        return out
