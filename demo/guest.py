"""Writes into a running devcloud server's disk as its guest would, for the demo and the tests that need
known bytes in a disk at snapshot time."""

from __future__ import annotations

import os
import random
import tempfile
import xml.etree.ElementTree as ET

import libvirt
import libvirt_qemu


def disk_alias(xml: str, dev: str) -> str:
    """QEMU's device id of a domain disk: its libvirt alias (Nova names volumes ``ua-<volume id>``)."""
    for disk in ET.fromstring(xml).findall("./devices/disk"):
        target, alias = disk.find("target"), disk.find("alias")
        if target is not None and target.get("dev") == dev and alias is not None:
            return str(alias.get("name"))
    raise RuntimeError(f"the domain has no disk {dev} with an alias")


def write_guest(uri: str, server_id: str, offset: int, length: int, seed: int, dev: str = "vda") -> bytes:
    """Write ``length`` pseudo-random bytes (from ``seed``: incompressible, so stored sizes mean
    something) into a running server's disk through QEMU's block layer, as a guest would (so the disk's
    dirty bitmap records it). Returns the bytes written."""
    rng = random.Random(seed)
    data = b"".join(rng.randbytes(min(1 << 20, length - i)) for i in range(0, length, 1 << 20))
    with tempfile.NamedTemporaryFile(prefix="t4o-guest-", suffix=".bin", delete=False) as f:
        f.write(data)
    os.chmod(f.name, 0o644)  # QEMU runs as its own user
    conn = libvirt.open(uri)
    try:
        dom = conn.lookupByUUIDString(server_id)
        device = f"/machine/peripheral/{disk_alias(dom.XMLDesc(0), dev)}/virtio-backend"
        cmd = f'qemu-io -d {device} "write -s {f.name} {offset} {length}"'
        out = libvirt_qemu.qemuMonitorCommand(dom, cmd, libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP)
        if "error" in out.lower() or "conflict" in out.lower() or "invalid" in out.lower():
            raise RuntimeError(f"writing into {server_id}:{dev} failed: {out}")
    finally:
        conn.close()
        os.unlink(f.name)
    return data
