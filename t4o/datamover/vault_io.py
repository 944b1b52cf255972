"""The datamover's side of the vault: back up a disk source object, restore into a disk writer, and
checksum a restored disk by reading it back.

``Repository.backup_disk`` and ``restore_disk`` work on paths; the agent reads libvirt's NBD exports and
writes through qemu-nbd writers, so it drives the vault's own backup pipeline and block fetches here,
with the same lease and commit order (chunks first, manifest last). The manifest is written through the
vault's commit step (t4o.vault.commit): a gc sweep that ran beside the backup may have removed chunks it
reused, and those are stored again before the manifest names them. A backup that dies before its commit
leaves only unreferenced chunks and a lease that goes stale, both of which gc removes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from t4o.vault import BackendError, Repository, VaultError, open_backend
from t4o.vault import backup as vault_backup
from t4o.vault.chunks import chunk_id, is_zero
from t4o.vault.commit import commit
from t4o.vault.errors import CorruptRepository, RepositoryNotFound
from t4o.vault.leases import Lease, wait_for_no_gc
from t4o.vault.manifest import Manifest, block_count, block_len, tree_checksum
from t4o.vault.progress import Progress
from t4o.vault.restore import fetch_block
from t4o.vault.source import block_ranges

BytesCallback = Callable[[int], None]


def open_repository(url: str, password: str | None = None, create: bool = True) -> Repository:
    backend = open_backend(url)
    try:
        return Repository.open(backend, password)
    except RepositoryNotFound:
        if not create:
            raise
        return Repository.init(backend, password)


class TargetUnavailable(RuntimeError):
    """The backup target cannot be used; the message names it and says what to do."""


def mount_point_of(path: str) -> str:
    """The mount point of the filesystem that holds ``path`` (or would hold it, if it does not exist)."""
    current = os.path.abspath(path)
    while not os.path.ismount(current):
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return current


def open_target(
    url: str, password: str | None = None, *, create_if_missing: bool = False, require_mount: bool = False
) -> Repository:
    """Open the vault of the backup target ``url``, or raise TargetUnavailable saying why.

    A directory target is usually an NFS share mounted on every worker and compute host. If the share is
    not mounted, its mount point is an empty local directory: creating a vault there would fill the root
    filesystem with backups nobody else sees. So a target without a vault is an error unless
    ``create_if_missing``, and with ``require_mount`` a directory on the root filesystem is refused.
    """
    local = not url.startswith("s3://")
    path = url.removeprefix("file://")
    if local and require_mount and mount_point_of(path) == "/":
        raise TargetUnavailable(
            f"the backup target {url} is unavailable: it is not on a mounted filesystem (is its NFS share "
            "mounted?); [backup_target] require_mount is set"
        )
    try:
        return open_repository(url, password, create=create_if_missing)
    except RepositoryNotFound:
        where = f" (on the filesystem mounted at {mount_point_of(path)})" if local else ""
        raise TargetUnavailable(
            f"the backup target {url} is unavailable: it holds no vault{where}. If it is a share, check "
            f"that it is mounted; a new target is initialised once with 't4o-vault init {url}' (or set "
            "[backup_target] create_if_missing = true)"
        ) from None
    except (VaultError, BackendError) as exc:
        raise TargetUnavailable(f"the backup target {url} is unavailable: {exc}") from None
    except OSError as exc:
        raise TargetUnavailable(f"the backup target {url} is unavailable: {exc.strerror or exc}") from None


class VaultSource:
    """Adapts a disk-layer source (NBD export, file) to what the vault's pipeline reads."""

    is_block = True  # the size is the source's own, not a file's

    def __init__(self, source: Any) -> None:
        self._source = source
        self.size = int(source.size)
        self.path = str(getattr(source, "path", "disk"))
        self.format = str(getattr(source, "format", "raw"))

    def read(self, offset: int, length: int) -> bytes:
        return self._source.read(offset, length)

    def current_size(self) -> int:
        return int(self._source.size)

    def data_extents(self) -> list[tuple[int, int]] | None:
        extents = getattr(self._source, "data_extents", None)
        return list(extents()) if extents is not None else None


@dataclass
class DiskResult:
    manifest: Manifest
    read_bytes: int
    new_bytes: int
    incremental: bool


def backup_source(
    repo: Repository,
    source: Any,
    *,
    snapshot_id: str,
    disk_id: str,
    workload_id: str,
    parent: str | None,
    changed_extents: list[tuple[int, int]] | None,
    on_bytes: BytesCallback | None = None,
    metadata: dict[str, Any] | None = None,
) -> DiskResult:
    """Store one disk in the vault; ``changed_extents`` (with ``parent``) makes it an incremental."""
    parent_m = repo.get_manifest(parent) if parent else None
    if parent_m is None or parent_m.chunk_size != repo.chunk_size or parent_m.encrypted:
        parent_m, changed_extents = None, None
    codec = repo._codec(workload_id, repo.password_protected)
    src = VaultSource(source)
    last = [0]

    def progress(p: Progress) -> None:
        if on_bytes is not None:
            on_bytes(p.done - last[0])
        last[0] = p.done

    lease = Lease(repo.backend, "backup", stale_after=repo.stale_after, snapshot=snapshot_id, disk=disk_id)
    lease.acquire()
    try:
        wait_for_no_gc(repo.backend, repo.stale_after)
        manifest, stats = vault_backup.backup_disk(
            repo.backend,
            codec,
            src,  # type: ignore[arg-type]
            snapshot_id=snapshot_id,
            disk_id=disk_id,
            workload_id=workload_id,
            chunk_size=repo.chunk_size,
            parent=parent_m,
            changed_extents=changed_extents,
            progress=progress,
            metadata=metadata,
            workers=repo.workers,
        )
        # The commit point: until the manifest exists, this disk of the snapshot does not.
        commit(repo.backend, codec, src, manifest, lease, repo.stale_after)  # type: ignore[arg-type]
    finally:
        lease.release()
    return DiskResult(manifest, stats.read_bytes, stats.new_bytes, changed_extents is not None)


def restore_to_writer(
    repo: Repository, ref: str, writer: Any, on_bytes: BytesCallback | None = None, workers: int = 4
) -> Manifest:
    """Write the disk ``ref`` into ``writer`` (data blocks written, zero blocks zeroed), re-hashing every
    block on the way; raises CorruptRepository when the result does not match the backup's checksum.

    A zero block is zeroed only where the target may hold data now (``writer.data_extents()``): a new
    volume or disk reads as zeros already, and zeroing it block by block cost a write request per MiB
    (the read-back checksum still covers every block)."""
    m = repo.get_manifest(ref)
    if writer.size != m.size:
        raise CorruptRepository(f"{ref}: the target disk has {writer.size} bytes, the backup {m.size}")
    codec = repo.codec_for(m)
    extents = writer.data_extents() if hasattr(writer, "data_extents") else None
    dirty = set(block_ranges(list(extents), m.size, m.chunk_size)) if extents is not None else None
    failure: list[BaseException] = []
    slots = threading.BoundedSemaphore(workers * 2)

    def work(i: int) -> None:
        try:
            if failure:
                return
            off, n = i * m.chunk_size, block_len(i, m.size, m.chunk_size)
            if m.chunks[i] is None:
                if dirty is None or i in dirty:
                    writer.write_zeroes(off, n)
            else:
                writer.write(off, fetch_block(repo.backend, codec, m, i))
            if on_bytes is not None:
                on_bytes(n)
        except BaseException as exc:
            failure.append(exc)
        finally:
            slots.release()

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dm-restore") as pool:
        for i in range(len(m.chunks)):
            slots.acquire()
            if failure:
                slots.release()
                break
            pool.submit(work, i)
    if failure:
        raise failure[0]
    writer.flush()
    if tree_checksum(m.chunks, m.size, m.chunk_size, codec.id_key) != m.checksum:
        raise CorruptRepository(f"{ref}: the restored blocks do not match the checksum taken at backup")
    return m


def disk_checksum(repo: Repository, m: Manifest, source: Any, workers: int = 4) -> str:
    """The vault checksum (see t4o.vault.manifest) of what ``source`` holds now, read block by block:
    comparing it with ``m.checksum`` proves the disk equals the one backed up. Blocks are read and hashed
    by ``workers`` threads (file reads and blake3 release the GIL)."""
    codec = repo.codec_for(m)
    size = int(source.size)
    n = block_count(size, m.chunk_size)
    extents = source.data_extents() if hasattr(source, "data_extents") else None
    wanted = sorted(block_ranges(list(extents), size, m.chunk_size)) if extents is not None else range(n)
    ids: list[str | None] = [None] * n

    def one(i: int) -> None:
        data = source.read(i * m.chunk_size, block_len(i, size, m.chunk_size))
        ids[i] = None if is_zero(data) else chunk_id(codec.id_key, data)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dm-verify") as pool:
        list(pool.map(one, wanted))  # the block data is not kept: each task stores only its id
    return tree_checksum(ids, size, m.chunk_size, codec.id_key)
