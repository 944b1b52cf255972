"""What an agent does for a transfer: back up a domain's disks into the vault, or write disks back.

Backup spec (from the snapshot workflow, through datamover-api)::

    {"vault": {"url": ..., "password": null}, "domain": <server uuid>, "workload_id": ...,
     "snapshot_id": ..., "checkpoint": "t4o-<snapshot>", "parent_checkpoint": "t4o-<prev>" | null,
     "disk_id_prefix": <vm id>, "parents": {<target>: <vault ref>}, "disk_metadata": {<target>: {...}}}

Every disk of the domain is backed up, as vault disk ``<disk_id_prefix>_<target>``. Detached volumes
come as ``"volumes": [{"volume_id", "snapshot_id": <Cinder snapshot>, "parent": <ref> | null,
"metadata": {...}}]`` and are read from the Cinder snapshot's file, as ``<disk_id_prefix>_volume-<id>``.
Optional ``"guest_hooks"`` are commands run in the guest around its freeze (see disks/guest_hooks.py);
the result lists what they did under ``"guest_hooks"``.

Restore spec::

    {"vault": {...}, "domain": <server uuid>, "disks": [{"ref": <vault ref>, "target": "vda"}],
     "volumes": [{"ref": <vault ref>, "volume_id": <detached volume to write into>}],
     "power_off": false}

``disks`` may be empty: the transfer then only fills volumes through their files, and the domain need
not exist yet (a restore fills a new server's volumes while Nova builds it); with ``"if_found": true`` a
volume whose file this host does not see (a backend that is not file-based) is left alone and returned
as ``{"volume_id", "ref", "skipped": <why>}``, for the restore to write it through the domain instead.

With ``power_off`` a running domain is powered off first, without a clean shutdown: only for a new
server whose disks are all about to be overwritten, once Nova's own stop of it is under way (Nova sees
it off and records it stopped). With ``"restart": {"volumes": [<volume id>], "window": 12}`` instead,
the new server's domain is powered off without Nova's stop and started again once its disks are
written and those volumes attached, if that is within ``window`` seconds (see domain_restart.py); the
transfer's result shows ``"domain_off": true`` once it is off, and at the end ``"restarted"``.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import libvirt
from oslo_config import cfg

from t4o import vault
from t4o.common.log import get_logger
from t4o.datamover import nfs_mount
from t4o.datamover.agent import domain_restart
from t4o.datamover.agent.bandwidth import UNLIMITED, Bandwidth
from t4o.datamover.agent.transfers import Transfer
from t4o.datamover.disks import (
    BrokenChainError,
    DiskError,
    DomainBackup,
    DomainStateError,
    FileDiskSource,
    cinder_files,
    connect,
    list_disks,
    open_domain_disk_writer,
    open_file_writer,
)
from t4o.datamover.disks.guest_hooks import HookSpec
from t4o.datamover.disks.libvirt_conn import lookup_domain
from t4o.datamover.disks.libvirt_source import (
    OWNER_FILE,
    WORKDIR_PREFIX,
    abort_backup_job,
    backup_workdir,
    checkpoint_names,
    owner_alive,
)
from t4o.openstack import barbican, keystone_trusts

LOG = get_logger(__name__)
CHECKPOINT_PREFIX = "t4o-"


def clear_leftovers(dom: libvirt.virDomain, keep: str | None) -> list[str]:
    """Undo what an interrupted transfer (agent killed) left on the domain: a backup job still running and
    checkpoints of snapshots that never completed. Deleting a checkpoint merges its bitmap into its
    parent's, so the chain from ``keep`` still sees every change."""
    notes = []
    if dom.isActive():
        try:
            if dom.jobInfo()[0] != libvirt.VIR_DOMAIN_JOB_NONE:
                dom.abortJob()
                notes.append("aborted a backup job left by an interrupted transfer")
        except libvirt.libvirtError as exc:
            LOG.warning("domain %s: checking for a leftover backup job: %s", dom.name(), exc)
    for name in checkpoint_names(dom):
        if name.startswith(CHECKPOINT_PREFIX) and name != keep:
            try:
                dom.checkpointLookupByName(name, 0).delete(0)
                notes.append(f"deleted leftover checkpoint {name}")
            except libvirt.libvirtError as exc:
                LOG.warning("domain %s: deleting checkpoint %s: %s", dom.name(), name, exc)
    for note in notes:
        LOG.warning("domain %s: %s", dom.name(), note)
    return notes


def clear_abandoned_domain(dom: libvirt.virDomain) -> list[str]:
    """What an agent process killed during a backup left on one domain: its backup job (and with it the
    NBD export of the disks) and T4O checkpoints. Between snapshots a domain carries no T4O checkpoint
    (see forget_checkpoint), so every one found while no backup of a live agent runs is such a leftover:
    the new checkpoint of the interrupted backup, whose parent (if any) is the previous snapshot's,
    redefined for it. The new one is deleted (as a failed backup drops it); a checkpoint without a parent
    may be that previous one, the next incremental's base: only its metadata goes, its bitmap stays."""
    notes = []
    if dom.isActive():
        try:
            job_xml = dom.backupGetXMLDesc(0)
        except libvirt.libvirtError:
            job_xml = ""  # no backup job
        if job_xml:
            workdir = backup_workdir(job_xml)
            if workdir is None or owner_alive(workdir):
                return []  # not T4O's, or another agent's running backup: its domain is left alone
            abort_backup_job(dom)
            shutil.rmtree(workdir, ignore_errors=True)
            notes.append("ended a backup job left by an agent that died")
    ours = [cp for cp in dom.listAllCheckpoints(0) if cp.getName().startswith(CHECKPOINT_PREFIX)]
    roots = []
    for cp in ours:
        try:
            cp.getParent(0)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN_CHECKPOINT:
                raise
            roots.append(cp.getName())
            continue
        cp.delete(0)
        notes.append(f"deleted checkpoint {cp.getName()} of a backup that never completed")
    for name in roots:
        forget_checkpoint(dom, name)
        notes.append(f"dropped the metadata of checkpoint {name} (its bitmap stays for the next incremental)")
    return notes


def clear_abandoned(uri: str, scratch: str | None) -> list[str]:
    """At agent start, remove what transfers of an earlier agent process (killed, or its host rebooted)
    left: backup jobs, checkpoints and backup directories. Waiting for each domain's next snapshot would
    leave its disks exported meanwhile, and Nova cannot delete a domain that has checkpoints."""
    notes = []
    conn = connect(uri)
    try:
        for dom in conn.listAllDomains(0):
            try:
                notes += [f"domain {dom.name()}: {note}" for note in clear_abandoned_domain(dom)]
            except (libvirt.libvirtError, DiskError) as exc:
                LOG.warning("domain %s: removing what an earlier agent left: %s", dom.name(), exc)
    finally:
        conn.close()
    for workdir in glob.glob(os.path.join(scratch or tempfile.gettempdir(), f"{WORKDIR_PREFIX}*")):
        # only directories this code marked with an owner, once that owner is gone
        if os.path.exists(os.path.join(workdir, OWNER_FILE)) and not owner_alive(workdir):
            shutil.rmtree(workdir, ignore_errors=True)
            notes.append(f"removed the backup directory {workdir}")
    for note in notes:
        LOG.warning("%s", note)
    return notes


def forget_checkpoint(dom: libvirt.virDomain, name: str) -> str:
    """Keep the checkpoint's bitmaps in the disks but drop libvirt's metadata of it, returning its XML.

    Nova cannot delete a domain that has checkpoints ("cannot delete inactive domain with 1
    checkpoints"): between snapshots the domain carries none, and the next incremental redefines the
    parent from the XML kept with the snapshot."""
    cp = dom.checkpointLookupByName(name, 0)
    xml = cp.getXMLDesc(0)
    cp.delete(libvirt.VIR_DOMAIN_CHECKPOINT_DELETE_METADATA_ONLY)
    return xml


def redefine_checkpoint(dom: libvirt.virDomain, name: str, xml: str | None) -> None:
    """Bring back the parent checkpoint's metadata; if that fails, the chain is broken and the backup
    falls back to a full one (DomainBackup finds the parent missing)."""
    if name in checkpoint_names(dom) or not xml:
        return
    try:
        dom.checkpointCreateXML(xml, libvirt.VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE)
    except libvirt.libvirtError as exc:
        LOG.warning("domain %s: cannot redefine checkpoint %s: %s", dom.name(), name, exc)


def open_vault(spec: dict[str, Any], conf: cfg.ConfigOpts = cfg.CONF) -> vault.Repository:
    """The backup target as the workflow named it; an agent never creates a vault. An encrypted
    workload's key is unlocked with its Barbican secret, which the agent reads through the owner's trust
    (the spec carries the secret's id and the trust's, never key material)."""
    if spec["vault"].get("nfs_share"):  # an nfs target: mounted here at its "url" unless it is already
        nfs_mount.ensure_mounted(str(spec["vault"]["nfs_share"]), str(spec["vault"]["url"]), conf)
    repo = vault.open_spec(spec["vault"])  # with the target's own S3 keys, when it has some
    enc = spec["vault"].get("encryption")
    if enc:
        try:
            session = keystone_trusts.trust_session(conf, str(enc["trust_id"]))
            # the control plane's interface; else this agent's own [clients]
            payload = barbican.secret_payload(session, str(enc["secret_ref"]), enc.get("interface"))
            repo.unlock_workload(str(enc["workload_id"]), payload)
        except (barbican.SecretUnavailable, keystone_trusts.TrustError, vault.WorkloadKeyError) as exc:
            repo.backend.close()
            raise EncryptionError(f"encrypted workload {enc.get('workload_id')}: {exc}") from None
    return repo


def _stored(m: Any, fmt: str) -> dict[str, Any]:
    """What a transfer reports of a disk it stored: the manifest's identity and what it read and wrote."""
    return {
        "disk_id": m.disk_id,
        "ref": m.ref,
        "size": m.size,
        "checksum": m.checksum,
        "format": fmt,
        "read_bytes": m.stats["read_bytes"],
        "new_bytes": m.stats["new_bytes"],
    }


class EncryptionError(Exception):
    """The encrypted workload's key cannot be unlocked here; the message says why."""


def byte_progress(transfer: Transfer) -> vault.ProgressCallback:
    """The vault reports the bytes done so far, from several threads; a transfer counts the bytes added
    (and raises TransferCancelled once cancelled, which stops the vault's work)."""
    last = 0
    lock = threading.Lock()

    def report(p: vault.Progress) -> None:
        nonlocal last
        with lock:
            added, last = max(0, p.done - last), max(last, p.done)
        transfer.add_bytes(added)

    return report


def detached_disk_id(prefix: str, volume_id: str) -> str:
    return f"{prefix}_volume-{volume_id}"


def backup_detached(
    transfer: Transfer,
    repo: vault.Repository,
    spec: dict[str, Any],
    volume_dirs: list[str],
    max_disks: int,
    bandwidth: Bandwidth = UNLIMITED,
) -> list[dict[str, Any]]:
    """Detached volumes, each read from the file of the Cinder snapshot the workflow took of it.

    A full read of the snapshot's allocated extents every time (a raw volume file has no bitmap); the
    vault stores only the blocks that changed since the parent. So no Cinder snapshot has to be kept for
    the next incremental, and the workflow deletes each one as soon as this transfer ends."""
    volumes: list[dict[str, Any]] = spec.get("volumes") or []
    images = {
        v["volume_id"]: cinder_files.snapshot_image(volume_dirs, v["volume_id"], v["snapshot_id"])
        for v in volumes
    }
    sources = {vid: FileDiskSource(img.path, img.format) for vid, img in images.items()}
    for src in sources.values():
        transfer.add_total(sum(n for _, n in src.data_extents()))

    def one(item: dict[str, Any]) -> dict[str, Any]:
        with sources[item["volume_id"]] as source:
            m = vault.backup_source(
                repo,
                bandwidth.source(source),
                detached_disk_id(spec["disk_id_prefix"], item["volume_id"]),
                parent=item.get("parent"),
                progress=byte_progress(transfer),
                snapshot_id=spec["snapshot_id"],
                workload_id=spec["workload_id"],
                metadata={**(item.get("metadata") or {}), "volume_id": item["volume_id"], "attached": False},
            )
        return {
            "target": None,
            "volume_id": item["volume_id"],
            "attached": False,
            "cinder_snapshot_id": item["snapshot_id"],
            **_stored(m, source.format),
            "incremental": False,
        }

    if volumes:
        transfer.say(f"Moving {len(volumes)} detached volume(s) from their Cinder snapshots")
    with ThreadPoolExecutor(max_workers=max_disks, thread_name_prefix="dm-volume") as pool:
        return list(pool.map(one, volumes))


def backup(
    transfer: Transfer,
    spec: dict[str, Any],
    uri: str,
    max_disks: int,
    scratch: str | None,
    volume_dirs: list[str] | None = None,
    bandwidth: Bandwidth = UNLIMITED,
) -> dict:
    repo = open_vault(spec)
    detached = backup_detached(transfer, repo, spec, volume_dirs or [], max_disks, bandwidth)
    conn = connect(uri)
    try:
        dom = lookup_domain(conn, spec["domain"])
        parent_cp = spec.get("parent_checkpoint")
        clear_leftovers(dom, parent_cp)
        if parent_cp:
            redefine_checkpoint(dom, parent_cp, spec.get("parent_checkpoint_xml"))
        try:
            return _backup_domain(transfer, spec, conn, dom, scratch, max_disks, repo, detached, bandwidth)
        finally:
            # A completed backup deleted the parent; one that failed or was cancelled leaves the domain
            # without T4O checkpoints again, as between snapshots (the parent's bitmap stays in the disk).
            if parent_cp and parent_cp in checkpoint_names(dom):
                try:
                    forget_checkpoint(dom, parent_cp)
                except libvirt.libvirtError as exc:
                    LOG.warning("domain %s: forgetting checkpoint %s: %s", dom.name(), parent_cp, exc)
    finally:
        conn.close()


def _backup_domain(
    transfer: Transfer,
    spec: dict[str, Any],
    conn: libvirt.virConnect,
    dom: libvirt.virDomain,
    scratch: str | None,
    max_disks: int,
    repo: vault.Repository,
    detached: list[dict[str, Any]],
    bandwidth: Bandwidth,
) -> dict[str, Any]:
    parent_cp = spec.get("parent_checkpoint")
    parents: dict[str, str] = spec.get("parents") or {}
    metadata: dict[str, dict[str, Any]] = spec.get("disk_metadata") or {}
    chain_note = None
    hooks = HookSpec.from_spec(spec.get("guest_hooks"))
    transfer.say("Taking a consistent point")
    try:
        point = DomainBackup(
            conn, spec["domain"], spec["checkpoint"], parent=parent_cp, scratch_dir=scratch, hooks=hooks,
        ).start()  # fmt: skip
    except BrokenChainError as exc:
        chain_note = f"incremental impossible ({exc.reason}); took a full backup"
        LOG.warning("domain %s: %s", spec["domain"], chain_note)
        point = DomainBackup(
            conn, spec["domain"], spec["checkpoint"], scratch_dir=scratch, hooks=hooks
        ).start()
    try:
        notes = [chain_note] if chain_note else []
        for disk in point.disks:
            extents = disk.changed_extents()
            transfer.add_total(sum(n for _, n in extents))
            if point.parent and parents.get(disk.target) and disk.note:
                notes.append(disk.note)  # an attached volume whose bitmap was lost: read in full
        transfer.say(f"Moving {len(point.disks)} disk(s) ({point.consistency})")

        def one(disk: Any) -> dict[str, Any]:
            parent_ref = parents.get(disk.target) if point.parent else None
            incremental = bool(parent_ref) and disk.incremental
            m = vault.backup_source(
                repo,
                bandwidth.source(disk),
                f"{spec['disk_id_prefix']}_{disk.target}",
                parent=parent_ref,
                changed_extents=disk.changed_extents() if incremental else None,
                progress=byte_progress(transfer),
                snapshot_id=spec["snapshot_id"],
                workload_id=spec["workload_id"],
                metadata={**metadata.get(disk.target, {}), "target": disk.target},
            )
            return {
                "target": disk.target,
                **_stored(m, disk.format),
                "incremental": m.stats["incremental"],
                # why the changes since the parent were unknown and the disk was read where allocated
                "full_read_reason": (disk.note or None) if parent_ref else None,
            }

        with ThreadPoolExecutor(max_workers=max_disks, thread_name_prefix="dm-disk") as pool:
            disks = list(pool.map(one, point.disks))
        transfer.check()
        point.commit()
        checkpoint_xml = forget_checkpoint(dom, spec["checkpoint"])
        return {
            "disks": disks + detached,
            "consistency": str(point.consistency),
            "consistency_reason": point.consistency_reason,
            "checkpoint": spec["checkpoint"],
            "checkpoint_xml": checkpoint_xml,
            "chain_note": "; ".join(notes) or None,
            "guest_hooks": [r.to_dict() for r in point.hook_results],
        }
    finally:
        point.close()  # ends the backup job; drops the checkpoint unless committed


def restore_detached(
    transfer: Transfer,
    repo: vault.Repository,
    item: dict[str, Any],
    volume_dirs: list[str],
    bandwidth: Bandwidth = UNLIMITED,
) -> dict[str, Any]:
    """Write a disk into the file of a detached volume (a new one, or in place), then check it."""
    ref, volume_id = item["ref"], item["volume_id"]
    m = repo.get_manifest(ref)
    image = cinder_files.active_image(volume_dirs, volume_id)
    with open_file_writer(image.path, m.size, image.format) as writer:
        vault.restore_to_writer(repo, ref, bandwidth.writer(writer), progress=byte_progress(transfer))
    with FileDiskSource(image.path, image.format) as source:
        found = vault.disk_checksum(repo, m, source)
    LOG.info("detached volume %s restored from %s: checksum %s", volume_id, ref, found)
    return {
        "target": None,
        "volume_id": volume_id,
        "ref": ref,
        "size": m.size,
        "expected_checksum": m.checksum,
        "restored_checksum": found,
        "verified": found == m.checksum,
    }


def _power_off(dom: libvirt.virDomain) -> None:
    """Power the domain off at once (QEMU gets SIGTERM and flushes its disks); already off is fine."""
    began = time.monotonic()
    try:
        dom.destroy()
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_OPERATION_INVALID:  # not "domain is not running"
            raise
    LOG.info("domain %s powered off for its restore in %.1f s", dom.name(), time.monotonic() - began)


def _unseen(item: dict[str, Any], volume_dirs: list[str]) -> dict[str, Any] | None:
    """None when this host sees the volume's file; else the volume as skipped, and why."""
    try:
        cinder_files.volume_dir(volume_dirs, item["volume_id"])
    except DiskError as exc:
        LOG.info("volume %s is not written into its file here: %s", item["volume_id"], exc)
        return {"volume_id": item["volume_id"], "ref": item["ref"], "skipped": str(exc)}
    return None


def _restore_volumes(
    transfer: Transfer,
    repo: vault.Repository,
    volumes: list[dict[str, Any]],
    max_disks: int,
    volume_dirs: list[str],
    bandwidth: Bandwidth,
) -> list[dict[str, Any]]:
    with ThreadPoolExecutor(max_workers=max_disks, thread_name_prefix="dm-disk") as pool:
        done = list(
            pool.map(lambda item: restore_detached(transfer, repo, item, volume_dirs, bandwidth), volumes)
        )
    bad = [f"volume {d['volume_id']}" for d in done if not d["verified"]]
    if bad:
        raise vault.CorruptRepository(f"restored {', '.join(bad)} do not match the snapshot's checksum")
    return done


def restore(
    transfer: Transfer,
    spec: dict[str, Any],
    uri: str,
    max_disks: int,
    volume_dirs: list[str] | None = None,
    bandwidth: Bandwidth = UNLIMITED,
) -> dict:
    """Write each disk back into the shut-off domain (and detached volumes into their files), then read
    each one back and compare checksums."""
    repo = open_vault(spec)
    volumes: list[dict[str, Any]] = spec.get("volumes") or []
    for item in volumes:
        transfer.add_total(repo.get_manifest(item["ref"]).size)
    conn = connect(uri)
    try:
        if not spec["disks"]:  # volumes only, into their files: the domain plays no part
            dirs = volume_dirs or []
            skipped = []
            if spec.get("if_found"):
                skipped = [_unseen(item, dirs) for item in volumes]
                volumes = [item for item, why in zip(volumes, skipped, strict=True) if why is None]
            done = _restore_volumes(transfer, repo, volumes, max_disks, dirs, bandwidth)
            return {"disks": done + [s for s in skipped if s is not None]}
        dom = lookup_domain(conn, spec["domain"])
        restart: dict[str, Any] | None = spec.get("restart")
        off_at = None
        if dom.isActive() and (spec.get("power_off") or restart is not None):
            off_at = time.monotonic()
            _power_off(dom)
            transfer.result["domain_off"] = True  # the restore attaches volumes once it reads this
        if dom.isActive():
            raise DomainStateError(f"domain {dom.name()} is running: it must be shut off for a restore")
        paths = {d.target: (d.source, d.format) for d in list_disks(dom)}
        for item in spec["disks"]:
            if item["target"] not in paths:
                raise DomainStateError(f"domain {dom.name()} has no disk {item['target']} to restore into")
            transfer.add_total(repo.get_manifest(item["ref"]).size)
        transfer.say(f"Writing {len(spec['disks'])} disk(s)")

        def one(item: dict[str, Any]) -> dict[str, Any]:
            target, ref = item["target"], item["ref"]
            m = repo.get_manifest(ref)
            with open_domain_disk_writer(conn, spec["domain"], target, m.size) as writer:
                vault.restore_to_writer(repo, ref, bandwidth.writer(writer), progress=byte_progress(transfer))
            path, fmt = paths[target]
            with FileDiskSource(path, fmt) as source:
                found = vault.disk_checksum(repo, m, source)
            LOG.info("domain %s disk %s restored from %s: checksum %s", dom.name(), target, ref, found)
            return {
                "target": target,
                "ref": ref,
                "size": m.size,
                "expected_checksum": m.checksum,
                "restored_checksum": found,
                "verified": found == m.checksum,
            }

        with ThreadPoolExecutor(max_workers=max_disks, thread_name_prefix="dm-disk") as pool:
            # The domain's disks and the detached volumes share the pool (no wait between the two).
            futures = [pool.submit(one, item) for item in spec["disks"]]
            futures += [
                pool.submit(restore_detached, transfer, repo, item, volume_dirs or [], bandwidth)
                for item in volumes
            ]
            disks = [f.result() for f in futures]
        bad = [d["target"] or f"volume {d['volume_id']}" for d in disks if not d["verified"]]
        if bad:
            raise vault.CorruptRepository(
                f"domain {dom.name()}: restored disk(s) {', '.join(bad)} do not match the snapshot's checksum"
            )
        if restart is None:
            return {"disks": disks}
        if off_at is None:  # it was off already (Nova stopped it): Nova starts it
            return {"disks": disks, "restarted": False, "reason": "the domain was not running"}
        window = float(restart.get("window") or domain_restart.DEFAULT_WINDOW)
        volume_ids = list(restart.get("volumes") or [])
        return {"disks": disks, **domain_restart.start_again(transfer, dom, volume_ids, off_at, window)}
    finally:
        conn.close()
