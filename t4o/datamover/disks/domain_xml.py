"""Reading a domain's disks from its XML, and writing the checkpoint and pull-backup XML libvirt expects."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

#: the virtio channel name that tells libvirt (and us) that the guest may run qemu-guest-agent
GUEST_AGENT_CHANNEL = "org.qemu.guest_agent.0"


@dataclass(frozen=True)
class DiskSpec:
    """A disk as the domain XML declares it; the size comes from libvirt separately."""

    target: str
    #: file path, block device path, or "" for network disks
    source: str
    #: "file", "block" or "network"
    kind: str
    #: "qcow2", "raw", ...
    format: str

    @property
    def supports_bitmaps(self) -> bool:
        # Persistent dirty bitmaps live in the qcow2 image; raw disks can only be copied whole.
        return self.format == "qcow2"


def parse_disks(domain_xml: str) -> list[DiskSpec]:
    """The domain's disks (device='disk'; cdroms and floppies are not data)."""
    root = ET.fromstring(domain_xml)
    out: list[DiskSpec] = []
    for disk in root.findall("./devices/disk"):
        if disk.get("device", "disk") != "disk":
            continue
        target = disk.find("target")
        if target is None or not target.get("dev"):
            continue
        kind = disk.get("type", "file")
        src = disk.find("source")
        source = ""
        if src is not None:
            source = src.get("file") or src.get("dev") or src.get("name") or ""
        driver = disk.find("driver")
        fmt = (driver.get("type") if driver is not None else None) or "raw"
        out.append(DiskSpec(target=target.get("dev", ""), source=source, kind=kind, format=fmt))
    return out


def has_guest_agent_channel(domain_xml: str) -> bool:
    root = ET.fromstring(domain_xml)
    return any(t.get("name") == GUEST_AGENT_CHANNEL for t in root.findall("./devices/channel/target"))


def checkpoint_xml(name: str, disks: list[DiskSpec], selected: set[str], description: str = "") -> str:
    cp = ET.Element("domaincheckpoint")
    ET.SubElement(cp, "name").text = name
    if description:
        ET.SubElement(cp, "description").text = description
    el = ET.SubElement(cp, "disks")
    for d in disks:
        mode = "bitmap" if d.target in selected and d.supports_bitmaps else "no"
        ET.SubElement(el, "disk", name=d.target, checkpoint=mode)
    return ET.tostring(cp, encoding="unicode")


def backup_xml(
    socket_path: str,
    disks: list[DiskSpec],
    selected: set[str],
    scratch_dir: str,
    incremental_from: str | None,
) -> str:
    """Pull-mode backup: libvirt exports each selected disk (name = target dev) on a unix-socket NBD server.

    With ``incremental_from``, bitmap-capable disks are exported with ``qemu:dirty-bitmap:backup-<dev>``;
    the others are exported in full.
    """
    bk = ET.Element("domainbackup", mode="pull")
    ET.SubElement(bk, "server", transport="unix", socket=socket_path)
    el = ET.SubElement(bk, "disks")
    for d in disks:
        if d.target not in selected:
            ET.SubElement(el, "disk", name=d.target, backup="no")
            continue
        attrs = {"name": d.target, "backup": "yes", "type": "file"}
        if incremental_from and d.supports_bitmaps:
            attrs.update(backupmode="incremental", incremental=incremental_from)
        else:
            attrs["backupmode"] = "full"
        disk = ET.SubElement(el, "disk", attrs)
        ET.SubElement(disk, "scratch", file=f"{scratch_dir}/scratch-{d.target}.qcow2")
    return ET.tostring(bk, encoding="unicode")


# -- read-only NBD disks hot-plugged into a running domain (snapshot mounts) --------------------------

VIRTIO_PREFIX = "vd"


def disk_name(index: int, prefix: str = VIRTIO_PREFIX) -> str:
    """The target name of disk ``index`` the way libvirt counts them: vda..vdz, vdaa..vdaz, vdba..."""
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(ord("a") + rem) + letters
    return prefix + letters


def used_targets(domain_xml: str) -> set[str]:
    """Target names of every disk of the domain (disks, cdroms and floppies: they share the names)."""
    root = ET.fromstring(domain_xml)
    return {t.get("dev", "") for t in root.findall("./devices/disk/target")} - {""}


def free_targets(domain_xml: str, count: int, prefix: str = VIRTIO_PREFIX) -> list[str]:
    """The first ``count`` virtio target names no disk of the domain uses, in libvirt's order."""
    used = used_targets(domain_xml)
    out: list[str] = []
    index = 0
    while len(out) < count:
        name = disk_name(index, prefix)
        if name not in used:
            out.append(name)
        index += 1
    return out


def nbd_disk_xml(
    target: str,
    socket_path: str,
    export: str,
    serial: str,
    alias: str,
    reconnect_delay: int | None = None,
) -> str:
    """A read-only raw virtio disk whose bytes come from the NBD server on ``socket_path``.

    ``alias`` must start with ``ua-`` (a user alias): QEMU then names the device after it. With
    ``reconnect_delay``, QEMU holds the guest's reads that long while the server is away (a restarted
    agent) instead of failing them; a libvirt that does not know the element ignores it."""
    disk = ET.Element("disk", type="network", device="disk")
    ET.SubElement(disk, "driver", name="qemu", type="raw")
    source = ET.SubElement(disk, "source", protocol="nbd", name=export)
    ET.SubElement(source, "host", transport="unix", socket=socket_path)
    if reconnect_delay:
        ET.SubElement(source, "reconnect", delay=str(reconnect_delay))
    ET.SubElement(disk, "target", dev=target, bus="virtio")
    ET.SubElement(disk, "readonly")
    ET.SubElement(disk, "serial").text = serial
    ET.SubElement(disk, "alias", name=alias)
    return ET.tostring(disk, encoding="unicode")


def nbd_sockets(domain_xml: str) -> dict[str, str]:
    """Target name of each NBD disk served on a unix socket, by socket path."""
    root = ET.fromstring(domain_xml)
    out: dict[str, str] = {}
    for disk in root.findall("./devices/disk[@type='network']"):
        host = disk.find("./source[@protocol='nbd']/host[@transport='unix']")
        target = disk.find("target")
        if host is not None and host.get("socket") and target is not None:
            out[host.get("socket", "")] = target.get("dev", "")
    return out


def disk_serials(domain_xml: str) -> set[str]:
    """The serials of the domain's disks: Nova gives each Cinder volume it attaches its volume id."""
    root = ET.fromstring(domain_xml)
    return {(s.text or "").strip() for s in root.findall("./devices/disk/serial") if s.text}
