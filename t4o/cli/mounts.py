"""``openstack workload snapshot mount|dismount|mounted list`` (``workloadmgr snapshot-mount <snapshot>
<mount_vm_id>``, ``snapshot-dismount``, ``snapshot-mounted-list``): a snapshot's disks attached read-only
to a running recovery VM, for as long as they are read (the API dismounts them after an idle time)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from t4o.cli import base
from t4o.cli.snapshots import add_snapshot_arg
from t4o.client import Client

LIST_FIELDS = (
    "snapshot_id",
    "snapshot_name",
    "workload_id",
    "mount_vm_id",
    "status",
    "devices",
    "expires_at",
)
LIST_HEADERS = (
    "Snapshot ID",
    "Snapshot Name",
    "Workload ID",
    "Mount VM ID",
    "Status",
    "Devices",
    "Expires At",
)


def devices(mount: Mapping[str, Any]) -> str:
    """Each disk as ``<snapshot VM's disk> -> <device in the recovery VM> (<serial>)``."""
    return ", ".join(
        f"{d.get('disk')} -> {d.get('device') or '?'} ({d.get('serial')})" for d in mount.get("disks") or []
    )


def _shown(mount: Mapping[str, Any]) -> dict[str, Any]:
    return {**mount, "devices": devices(mount)}


class MountSnapshot(base.ShowOne):
    """Attach a snapshot's disks read-only to a running recovery VM of the project; mount them inside the
    VM (by device, or /dev/disk/by-id/virtio-<serial>) and copy files out, then dismount"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_snapshot_arg(parser)
        parser.add_argument(
            "mount_vm_id",
            metavar="<mount_vm_id>",
            help="ID of the recovery VM: an ACTIVE server of the project",
        )
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        snapshot = client.snapshots.find(args.snapshot)
        return base.show(_shown(client.mounts.mount(snapshot.id, args.mount_vm_id)))


class DismountSnapshot(base.ShowOne):
    """Detach a mounted snapshot's disks from its recovery VM (unmount them in the VM first)"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_snapshot_arg(parser)
        return parser

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        snapshot = client.snapshots.find(args.snapshot)
        return base.show(_shown(client.mounts.dismount(snapshot.id)))


class ListMountedSnapshot(base.Lister):
    """List the project's mounted snapshots, their recovery VMs and devices"""

    def act(self, client: Client, args: argparse.Namespace) -> Any:
        return base.rows([_shown(m) for m in client.mounts.list()], LIST_FIELDS, LIST_HEADERS)
