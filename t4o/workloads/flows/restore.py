"""The restore workflows: one-click, selective and in-place (``network-topology`` and ``security-groups``,
which restore no VM, are in restore_types).

A new VM is restored by creating a server from the snapshot's image and flavor on new ports (see ports:
the original fixed IPs and MACs where they are free) and in its server group (see prerequisites), creating
and attaching its volumes, shutting it off, and having the datamover agent on its compute host write
every disk from the vault into the domain's disk files, then read each one back and compare its
checksum with the one recorded at snapshot time. The server is then started. Writing into the disk
files of a real Nova server (rather than uploading an image per disk) keeps Nova's own disk layout
(qcow2 over the image's base) and costs one pass over the data.

A restore needs nothing of the original cloud but the backup (see prerequisites): a missing flavor,
keypair or security group is found again or re-created from the snapshot's record, and a VM whose image
is gone (or that booted from a volume) boots from a new bootable volume its root disk is written into.

A selective restore's per-VM and per-volume choices (flavor, nics, volumes left out or retyped) and the
names and metadata of the servers and volumes it creates are described in selection.

In-place writes into the existing server's disks and volumes, with the server stopped around it.
A failure removes everything the restore created and says what failed.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from t4o.common import errors
from t4o.common.config import CONF
from t4o.common.log import get_logger
from t4o.datamover.client import DatamoverClient, TransferFailed, TransferRef
from t4o.db import api as db
from t4o.openstack.connection import UserCloud, user_cloud
from t4o.openstack.glance import guest_properties
from t4o.openstack.waits import CloudStepFailed
from t4o.workloads import encryption, targets
from t4o.workloads.flows import config, ports, prerequisites, restore_types, selection, topology, vm_runner
from t4o.workloads.flows.ledger import Ledger
from t4o.workloads.flows.prerequisites import Prerequisites
from t4o.workloads.flows.progress import human, transfer_progress
from t4o.workloads.flows.transfer_slots import TransferSlots
from t4o.workloads.flows.vm_runner import Report
from t4o.workloads.workflows import Job, JobCancelled, JobResolved

LOG = get_logger(__name__)


_instance_options = selection.instance_options


@dataclass(frozen=True)
class Origin:
    """Where a restore's new servers and volumes come from: their names and metadata say it."""

    snapshot: Any
    restore_id: str

    def name(self, original: str) -> str:
        return selection.restored_name(original, self.snapshot)

    def metadata(self, original_name: str, original_id: str | None) -> dict[str, str]:
        return selection.origin(original_name, original_id, str(self.snapshot.id), self.restore_id)


def _chosen(snap_vms: list[Any], options: dict[str, Any], selective: bool) -> list[Any]:
    listed = _instance_options(options)
    if not listed:
        return list(snap_vms)
    unknown = set(listed) - {vm.vm_id for vm in snap_vms}
    if unknown:
        raise errors.BadRequest(f"VM(s) {', '.join(sorted(unknown))} are not in the snapshot")
    return [vm for vm in snap_vms if vm.vm_id in listed and listed[vm.vm_id].get("include", True)]


def restore(job: Job) -> dict[str, Any]:
    config.ensure_registered()
    started = time.monotonic()
    row = job.row()
    snap = db.snapshot_get(row.snapshot_id, None)
    options = row.restore_options or {}
    kind = row.restore_type
    if kind in restore_types.WITHOUT_VMS:
        return restore_types.run(job, kind, list(snap.vms))
    vms = _chosen(list(snap.vms), options, kind == "selective")
    if not vms:
        raise errors.BadRequest("No VM of the snapshot was chosen to restore")
    # VMs are restored several at a time whatever the workload's type: a restore has no consistency
    # point to keep, and most of a VM's time is spent waiting for Nova and Cinder.
    workers = max(1, min(CONF.workflows.max_parallel_vms, len(vms)))
    how = f", {workers} at a time" if workers > 1 else ""
    job.progress(1, f"{kind} restore of {len(vms)} VM(s) started{how}")
    workload = db.workload_get(snap.workload_id, None)
    repo = targets.open_for_workload(workload)  # a clear error now if the target is gone
    try:
        encryption.unlock(repo, workload, job.context)  # ... or the encrypted workload's secret
    finally:
        repo.backend.close()
    vault = encryption.vault_spec(workload, job.context)  # the agents read the disks from the same target

    def connect() -> UserCloud:
        return user_cloud(job.context)

    cloud = connect()
    ledger = Ledger.recorded(cloud, CONF.workflows.volume_timeout, str(job.id), job.context)
    needs = Prerequisites(ledger, cloud.nova.current_project_id())
    progress = vm_runner.VmProgress(job.progress, len(vms))
    slots = TransferSlots.for_job(job, row.project_id, CONF)  # deployment-wide transfer limits
    networks: dict[str, dict[str, Any]] = {}
    warnings: list[str] = []  # list.append is atomic: the VMs' threads share it
    origin = Origin(snap, str(job.id))

    # A connection per running VM (the VMs run in threads; a connection is not shared between threads),
    # made while the networks are mapped: making one (authenticating, finding each service's endpoint
    # and version) is several round trips, a second or more on a loaded control plane. A VM hands its
    # connection on to the next one when it is done.
    clouds: queue.SimpleQueue[Future[UserCloud]] = queue.SimpleQueue()
    if workers > 1:
        connecting = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="connect")
        for _ in range(workers):
            clouds.put(connecting.submit(connect))
        connecting.shutdown(wait=False)

    def restore_vm(index: int, vm: Any) -> dict[str, Any]:
        label = f"VM {vm.vm_name or vm.vm_id} ({vm.vm_id})"
        phases = Phases()

        def report(fraction: float, message: str) -> None:
            progress.report(index, fraction, message)

        held = clouds.get() if workers > 1 else None
        try:
            dm = DatamoverClient(CONF)
            threading.Thread(target=_authenticate, args=(dm,), name="dm-auth", daemon=True).start()
            vm_cloud = held.result() if held is not None else cloud
            phases.done("connection")
            if slots is not None:
                dm = slots.gate(dm, report)  # each transfer waits for a slot of its host first
            if kind == "inplace":
                return _in_place(vm_cloud, dm, vm, report, vault)
            opts = _instance_options(options).get(vm.vm_id, {})
            return _new_vm(
                vm_cloud, dm, ledger, needs, vm, opts, options, networks, report, warnings, origin, vault,
                phases=phases,
            )  # fmt: skip
        except (JobCancelled, JobResolved, vm_runner.Aborted):
            raise
        except TransferFailed as exc:
            raise VmFailed(f"{label}: the data transfer failed: {exc}") from exc
        except Exception as exc:
            raise VmFailed(f"{label}: {exc}") from exc
        finally:
            if held is not None:
                clouds.put(held)

    try:
        if kind != "inplace":
            records = [(vm.vm_name or vm.vm_id, vm.definition) for vm in vms]
            covered = topology.covered_ports(options, vms)
            networks = topology.networks_for(cloud.neutron, kind, options, records, ledger, covered)
        instances = vm_runner.run_each(vms, restore_vm, workers, progress.abort)
    except (JobCancelled, JobResolved):
        ledger.undo()
        raise
    except Exception as exc:
        raise RuntimeError(ledger.undo_after(exc)) from (exc.__cause__ if isinstance(exc, VmFailed) else exc)
    disks = [d for inst in instances for d in inst["disks"]]
    verified = sum(1 for d in disks if d["verified"])
    size = sum(d["size"] for d in disks)
    recreated = ", ".join(f"{c['kind'].replace('_', ' ')} {c['name']}" for c in needs.created)
    return {
        "instances": instances,
        "size": size,
        "warning_msg": "; ".join(warnings) or None,
        "progress_msg": (
            f"Restored {len(instances)} VM(s) ({kind}{how}); {verified} of {len(disks)} disk(s) verified by "
            f"checksum; {human(size)} in {time.monotonic() - started:.1f} s"
            + (f"; re-created what the cloud no longer had: {recreated}" if recreated else "")
        ),
    }


def _authenticate(dm: DatamoverClient) -> None:
    """Get the datamover client's token while the VM's server is being made: a new client gets it at
    its first request otherwise, which is then on the restore's path (a second or more under load)."""
    try:
        dm.session.get_token()
    except Exception as exc:  # the first request authenticates again, and fails with the cause
        LOG.debug("restore: early authentication to datamover-api failed: %s", exc)


class Phases:
    """How long each step of a VM's restore took, for its log line: where a restore's time goes."""

    def __init__(self) -> None:
        self._last = self._start = time.monotonic()
        self.spans: list[tuple[str, float]] = []

    def done(self, step: str) -> None:
        now = time.monotonic()
        self.spans.append((step, now - self._last))
        self._last = now

    def summary(self) -> str:
        steps = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in self.spans)
        return f"{time.monotonic() - self._start:.1f} s: {steps}"


class VmFailed(Exception):
    """One VM's part of the restore failed; the message names the VM and the cause."""


def _write_disks(
    dm: DatamoverClient,
    server_id: str,
    disks: list[dict[str, str]],
    report: Report,
    low: float,
    volumes: list[dict[str, str]] | None = None,
    vault: dict[str, Any] | None = None,
    high: float = 0.95,
    if_found: bool = False,
) -> list[dict[str, Any]]:
    """The agent of the server's host writes its disks (through the shut-off domain) and the volumes
    (into their files), and checks each one. The transfer fills the VM's progress from ``low`` to
    ``high``. ``if_found``: volumes whose files the host does not see are skipped (see the agent's
    operations)."""
    spec = {"if_found": True} if if_found else {}
    return _restore_transfer(dm, server_id, disks, volumes or [], spec, vault, report, low, high)["disks"]


def _restore_transfer(
    dm: DatamoverClient,
    server_id: str,
    disks: list[dict[str, str]],
    volumes: list[dict[str, str]],
    options: dict[str, Any],
    vault: dict[str, Any] | None,
    report: Report,
    low: float,
    high: float,
    meanwhile: Callable[[TransferRef], None] | None = None,
) -> dict[str, Any]:
    """The agent's restore transfer with the spec's ``options`` (restart, if_found); its
    result. ``meanwhile`` runs once the transfer has started, before it is waited for (if it fails, the
    transfer is cancelled)."""
    spec = {"vault": vault or targets.spec(targets.configured_target()), "disks": disks, "volumes": volumes}
    ref = dm.start("restore", server_id, {**spec, **options})
    if meanwhile is not None:
        try:
            meanwhile(ref)
        except BaseException:
            dm.cancel(ref)
            with contextlib.suppress(TransferFailed):
                dm.wait(ref)  # until the agent let go of the disks (and a transfer slot is given back)
            raise

    def on_view(view: dict[str, Any]) -> None:
        fraction, message = transfer_progress(view)
        report(low + (high - low) * fraction, f"writing disks: {message}")

    result: dict[str, Any] = dm.wait(ref, on_view)["result"]
    return result


def _wait_domain_off(dm: DatamoverClient, ref: TransferRef, timeout: float) -> None:
    """Until the agent has powered the server's domain off for its restore (or the transfer ended)."""
    deadline, interval = time.monotonic() + timeout, 0.1
    while True:
        view = dm.status(ref)
        if view["status"] in ("done", "error", "cancelled") or (view.get("result") or {}).get("domain_off"):
            return
        if time.monotonic() > deadline:
            raise TransferFailed(
                f"transfer {ref.id} did not power the server's domain off in {timeout:.0f} s"
            )
        time.sleep(interval)
        interval = min(interval * 1.5, 0.5)


def _wait_scheduled(cloud: UserCloud, dm: DatamoverClient, server_id: str, timeout: float) -> None:
    """Until Nova has put the building server on a compute host (its agent then takes transfers for
    it); an ERROR fails at once with Nova's fault."""
    deadline, interval = time.monotonic() + timeout, 0.2
    while True:
        try:
            dm.host_of(server_id)
            return
        except TransferFailed:  # no host yet (409), or datamover-api did not answer: asked again
            if time.monotonic() > deadline:
                raise
        server = cloud.nova.get_server(server_id)
        if server.status.upper() == "ERROR":
            raise CloudStepFailed(
                f"server {server_id} went to ERROR" + (f": {server.fault}" if server.fault else "")
            )
        time.sleep(interval)
        interval = min(interval * 1.5, 0.5)


def _in_place(
    cloud: UserCloud, dm: DatamoverClient, vm: Any, report: Report, vault: dict[str, Any] | None = None
) -> dict[str, Any]:
    timeout = CONF.workflows.server_timeout
    server = cloud.nova.server(vm.vm_id)
    if server is None:
        raise errors.BadRequest(f"server {vm.vm_id} no longer exists: use a one-click or selective restore")
    attached = {att.volume_id: att.target for att in cloud.nova.attachments(vm.vm_id)}
    disks, detached = [], []
    for disk in vm.disks or []:
        target = disk["target"]
        if disk.get("attached") is False:
            where = _detached_in_place(cloud, vm.vm_id, disk["volume_id"], attached)
            if where is None:
                detached.append({"ref": disk["ref"], "volume_id": disk["volume_id"]})
            else:
                disks.append({"ref": disk["ref"], "target": where})
            continue
        if disk.get("volume_id"):
            if disk["volume_id"] not in attached:
                raise errors.BadRequest(
                    f"volume {disk['volume_id']} is no longer attached to server {vm.vm_id}"
                )
            target = attached[disk["volume_id"]]
        disks.append({"ref": disk["ref"], "target": target})
    report(0.0, f"VM {vm.vm_name}: stopping it for the in-place restore")
    was_running = cloud.nova.stop(vm.vm_id, timeout)
    try:
        results = _write_disks(
            dm, vm.vm_id, disks, _labelled(report, f"VM {vm.vm_name}"), 0.1, detached, vault
        )
    finally:
        if was_running:
            cloud.nova.start(vm.vm_id, timeout)
    return {
        "id": vm.vm_id,
        "name": server.name,
        "source_vm_id": vm.vm_id,
        "status": "ACTIVE" if was_running else "SHUTOFF",
        "disks": results,
    }


def _detached_in_place(
    cloud: UserCloud, server_id: str, volume_id: str, attached: dict[str, str]
) -> str | None:
    """Where an in-place restore writes a volume that was detached at snapshot time: through the domain
    if it is attached to the VM now (its target), into its file if it is still detached (None)."""
    if volume_id in attached:
        return attached[volume_id]
    vol = cloud.cinder.volume(volume_id)
    if vol is None:
        raise errors.BadRequest(f"volume {volume_id} no longer exists: use a one-click or selective restore")
    if vol.attached_to or vol.status != "available":
        raise errors.BadRequest(
            f"volume {volume_id} is {vol.status} and attached elsewhere: it cannot be written in place"
        )
    return None


def _labelled(report: Report, label: str) -> Report:
    return lambda fraction, message: report(fraction, f"{label}: {message}")


def _new_vm(
    cloud: UserCloud,
    dm: DatamoverClient,
    ledger: Ledger,
    needs: Prerequisites,
    vm: Any,
    opts: dict[str, Any],
    options: dict[str, Any],
    networks: dict[str, dict[str, Any]],
    report: Report,
    warnings: list[str] | None = None,
    origin: Origin | None = None,
    vault: dict[str, Any] | None = None,
    phases: Phases | None = None,
) -> dict[str, Any]:
    """A new server from the VM's record (and ``opts``, its options); with an ``origin``, it and its
    volumes are named after their originals and the snapshot, and their metadata say where they came from.
    ``phases``: where the steps' times go (for the VM's log line), when they started before this."""
    timeout, volume_timeout = CONF.workflows.server_timeout, CONF.workflows.volume_timeout
    phases = phases or Phases()
    definition = vm.definition
    src = definition["server"]
    original = src.get("name") or vm.vm_name or ""
    name = opts.get("name") or (origin.name(original) if origin else original)
    say = _labelled(report, f"VM {name}")
    vm_disks = list(vm.disks or [])
    boot = prerequisites.boot_of(definition)
    image_id = boot.get("image_id") if boot["source"] == "image" else None
    if image_id and not needs.image_exists(cloud, image_id):
        image_id = None  # gone: the root disk is restored into a volume the server boots from
    root = None if image_id else prerequisites.root_disk(vm_disks, boot)
    if root is None and not image_id:
        raise errors.BadRequest("the snapshot holds no root disk of the VM to boot it from")
    zone = opts.get("availability_zone") or options.get("zone") or src.get("availability_zone")
    recreated: list[dict[str, Any]] = []  # what this VM needed that was gone and was re-created
    flavor_id = needs.flavor(cloud, definition.get("flavor") or {}, opts.get("flavor"), recreated)
    key_name = needs.keypair(cloud, definition.get("keypair"), recreated)
    groups = needs.security_groups(cloud, definition.get("security_groups") or [], recreated)
    server_group = needs.server_group(cloud, definition.get("server_group"), recreated)
    known_volumes = [*definition.get("volumes", []), *definition.get("detached_volumes", [])]
    volume_names: dict[str, str] = {}  # each new volume's name, for the result
    say(0.0, "creating its volumes and the server")
    phases.done("prerequisites")

    def new_volume(disk: dict[str, Any], size: int | None = None) -> tuple[str, str | None]:
        vol_def: dict[str, Any] = next((v for v in known_volumes if v["id"] == disk.get("volume_id")), {})
        chosen = selection.vdisk(opts, disk.get("volume_id"))
        vtype = chosen.get("new_volume_type")
        if not vtype and vol_def.get("volume_type"):
            vtype = vol_def["volume_type"]
            if not cloud.cinder.volume_type_exists(vtype):  # gone with the source cloud: Cinder's default
                LOG.warning(
                    "restore: volume type %s no longer exists, VM %s gets the default type", vtype, name
                )
                vtype = None
        was = vol_def.get("name") or f"{original or name}-{disk['target'] or 'volume'}"
        extra: dict[str, Any] = (
            {"metadata": origin.metadata(vol_def.get("name") or "", disk.get("volume_id"))} if origin else {}
        )
        if chosen.get("availability_zone"):  # else Cinder's default zone
            extra["availability_zone"] = chosen["availability_zone"]
        volume_name = chosen.get("name") or (origin.name(was) if origin else was)
        volume_id = cloud.cinder.create_volume(
            size=size or vol_def.get("size") or max(1, disk["size"] // 2**30),
            name=volume_name,
            volume_type=vtype,
            description=vol_def.get("description") or "",
            **extra,
        )
        ledger.add("volume", volume_id)
        volume_names[volume_id] = volume_name
        return volume_id, vtype

    created = []
    volume_disks = [d for d in vm_disks if d.get("volume_id") and d is not root]
    left_out = [d["volume_id"] for d in volume_disks if not selection.volume_included(opts, d["volume_id"])]
    boot_volume = None
    if root is not None:
        boot_volume, boot_vtype = new_volume(root, prerequisites.root_volume_size(root, definition))
        cloud.cinder.wait_volume(boot_volume, "available", volume_timeout)
        cloud.cinder.make_bootable(boot_volume, guest_properties(definition.get("image") or {}))
        LOG.info("restore: VM %s boots from new volume %s (its %s source is gone or a volume)", name,
                 boot_volume, boot["source"])  # fmt: skip
    # The server's NICs: a port per recorded port on its mapped network; a record without ports (older
    # snapshots, a VM without NICs) gives a server without any, as it had.
    nics = ports.create(
        cloud.neutron,
        ledger,
        f"VM {name}",
        definition.get("ports") or [],
        networks,
        needs.group_id,
        warnings if warnings is not None else [],
        topology.nic_networks(
            cloud.neutron,
            topology.merged([definition]),
            definition.get("ports") or [],
            selection.nic_targets(opts, definition.get("ports") or []),
        ),
    )
    metadata = {**(src.get("metadata") or {}), **(origin.metadata(original, vm.vm_id) if origin else {})}
    server_id = cloud.nova.create_server(
        name,
        flavor_id,
        image_id,
        key_name=key_name,
        metadata=metadata or None,
        availability_zone=zone or None,
        security_groups=groups or None,
        boot_volume_id=boot_volume,
        port_ids=[p["id"] for p in nics] or None,
        server_group_id=server_group,
    )
    ledger.add("server", server_id)
    phases.done("ports and server request")
    # The other volumes are created once the server is requested: Cinder makes them while Nova schedules
    # the server (the request comes a second or more earlier than after them). As soon as Nova has
    # chosen its host (whose agent writes them), they are filled from the vault through their files and
    # checked: the bulk of a VM's data is written while the server builds. They are attached once the
    # server is shut off for its root disk, while that disk is written (see below).
    for disk in (d for d in volume_disks if d["volume_id"] not in left_out):
        volume_id, vtype = new_volume(disk)
        created.append((disk, volume_id, vtype))
    phases.done("volumes requested")
    for _, volume_id, _ in created:
        cloud.cinder.wait_volume(volume_id, "available", volume_timeout)
    phases.done("volumes available")
    filled: list[dict[str, Any]] = []
    if created:
        _wait_scheduled(cloud, dm, server_id, timeout)
        phases.done("server on a host")
        items = [{"ref": disk["ref"], "volume_id": volume_id} for disk, volume_id, _ in created]
        filled = _write_disks(
            dm, server_id, [], _labelled(say, "volumes"), 0.05, items, vault, high=0.6, if_found=True
        )
        phases.done("volumes written and verified")
    # Volumes the host sees no file of (a backend that is not file-based) are written like the root disk.
    unseen = {r["volume_id"] for r in filled if r.get("skipped")}
    filled = [r for r in filled if not r.get("skipped")]
    cloud.nova.wait_server(server_id, "ACTIVE", timeout)
    phases.done("server active")
    disks = [
        {"ref": d["ref"], "target": d["target"]} for d in vm_disks if not d.get("volume_id") and d is not root
    ]
    volumes: list[dict[str, Any]] = []
    attached_as: dict[str, str] = {}
    later: list[dict[str, str]] = []
    if root is not None:
        att = next((a for a in cloud.nova.attachments(server_id) if a.volume_id == boot_volume), None)
        target = (att.target if att else "") or root["target"]
        disks.append({"ref": root["ref"], "target": target})
        volumes.append(
            {"id": boot_volume, "name": volume_names.get(boot_volume or ""),
             "source_volume_id": root.get("volume_id"), "target": target, "volume_type": boot_vtype,
             "boot": True}
        )  # fmt: skip
    # Volumes detached at snapshot time are restored detached.
    to_attach = [(disk, volume_id) for disk, volume_id, _ in created if disk.get("attached") is not False]

    def attach() -> None:
        for disk, volume_id in to_attach:
            att = cloud.nova.attach_volume(server_id, volume_id)
            cloud.cinder.wait_volume(volume_id, "in-use", volume_timeout)
            attached_as[volume_id] = att.target or disk["target"]

    # Volumes written already are attached once the server's domain is off for its root disk, while that
    # disk is written: Nova then adds them to the domain's definition without the hot plug into a running
    # guest, and the attach does not add to the restore's time. A volume still to be written through the
    # domain needs its target (its attach) before the transfer: attached to the running server.
    overlap = bool(disks) and bool(to_attach) and not unseen
    if not overlap:
        if to_attach:
            say(0.6, "attaching its volumes")
        attach()
        phases.done("volumes attached")
    for disk, volume_id, _ in created:
        if volume_id in unseen:
            if volume_id in attached_as:
                disks.append({"ref": disk["ref"], "target": attached_as[volume_id]})
            else:
                later.append({"ref": disk["ref"], "volume_id": volume_id})
    results = []
    if disks or later:
        # The server's disks are written through its shut-off domain. Its guest has only just booted and
        # each of these disks is about to be overwritten whole, so it needs no clean shutdown, nor Nova's
        # stop and start: the agent powers the domain off, writes the disks, waits for the volumes
        # attached meanwhile and starts the domain again, all within the delay after which Nova would
        # act on the power-off (datamover/agent/domain_restart.py); Nova keeps the server ACTIVE. Past
        # that delay the agent leaves it off, Nova records it stopped, and it is started through Nova.
        say(0.6, "writing its disks")
        restart = {"volumes": [volume_id for _, volume_id in to_attach] if overlap else []}
        agent_options = {"restart": restart} if disks else {}  # volumes only: the domain is not touched

        def attach_when_off(ref: TransferRef) -> None:
            _wait_domain_off(dm, ref, timeout)
            phases.done("domain off")
            say(0.65, "attaching its volumes while its disks are written")
            attach()
            phases.done("volumes attached")

        outcome = _restore_transfer(
            dm, server_id, disks, later, agent_options, vault, say, 0.65, 0.95,
            meanwhile=attach_when_off if overlap else None,
        )  # fmt: skip
        results = outcome["disks"]
        phases.done(
            "disks written and verified" + (", domain started again" if outcome.get("restarted") else "")
        )
        if disks and not outcome.get("restarted"):
            LOG.info(
                "restore: VM %s: its domain was left off (%s); starting it through Nova",
                name, outcome.get("reason") or "not restarted",
            )  # fmt: skip
            say(0.95, "starting it")
            cloud.nova.stop(server_id, timeout)  # Nova's own stop of the left-off domain may be under way
            phases.done("server stopped")
            cloud.nova.start(server_id, timeout)
            phases.done("server started")
    for disk, volume_id, vtype in created:
        volumes.append(
            {"id": volume_id, "name": volume_names.get(volume_id), "source_volume_id": disk["volume_id"],
             "target": attached_as.get(volume_id), "volume_type": vtype}
        )  # fmt: skip
    for result in filled:
        result["target"] = attached_as.get(result["volume_id"])
    results += filled
    LOG.info("restore: VM %s (server %s) restored in %s", name, server_id, phases.summary())
    return {
        "id": server_id,
        "name": name,
        "source_vm_id": vm.vm_id,
        "status": "ACTIVE",
        "boot": {"source": "image", "image_id": image_id}
        if image_id
        else {"source": "volume", "volume_id": boot_volume},
        "flavor_id": flavor_id,
        "key_name": key_name,
        "security_groups": groups,
        "server_group": server_group,
        "ports": nics,
        "created": recreated,
        "volumes": volumes,
        "volumes_left_out": left_out,
        "networks": networks,
        "disks": results,
    }
