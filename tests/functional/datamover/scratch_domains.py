"""Scratch libvirt domains for the disk layer's tests, and checksums of their disks."""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass, field

import libvirt
import libvirt_qemu

MiB = 1024 * 1024
#: qcow2 dirty-bitmap granularity for 64 KiB clusters
GRANULARITY = 64 * 1024


@dataclass
class ScratchDomain:
    """A domain with blank disks, and a byte model of each disk that tests update with every write."""

    conn: libvirt.virConnect
    name: str
    workdir: str
    disks: dict[str, tuple[str, str, int]]  # target -> (path, format, size)
    model: dict[str, bytearray] = field(default_factory=dict)

    @property
    def dom(self) -> libvirt.virDomain:
        return self.conn.lookupByName(self.name)

    def write(self, target: str, offset: int, length: int, pattern: int) -> None:
        """Write through the running QEMU (its block layer, as a guest write would be tracked)."""
        device = f"/machine/peripheral/ua-{target}/virtio-backend"
        cmd = f'qemu-io -d {device} "write -P {pattern:#x} {offset} {length}"'
        out = libvirt_qemu.qemuMonitorCommand(self.dom, cmd, libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP)
        assert "error" not in out.lower() and "conflict" not in out.lower(), out
        self.model[target][offset : offset + length] = bytes([pattern]) * length

    def sha256(self, target: str) -> str:
        return hashlib.sha256(self.model[target]).hexdigest()

    def file_sha256(self, target: str) -> str:
        """Checksum of the disk's guest-visible bytes, read from its file (domain shut off)."""
        path, fmt, _ = self.disks[target]
        return image_sha256(path, fmt)


def image_sha256(path: str, fmt: str) -> str:
    raw = path + ".check.raw"
    subprocess.run(["qemu-img", "convert", "-U", "-f", fmt, "-O", "raw", path, raw], check=True)
    try:
        h = hashlib.sha256()
        with open(raw, "rb") as f:
            while block := f.read(4 * MiB):
                h.update(block)
        return h.hexdigest()
    finally:
        os.unlink(raw)


#: a guest agent channel: libvirt will talk to qemu-guest-agent there (nobody answers in an OS-less guest)
AGENT_CHANNEL = """<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"""


def domain_xml(name: str, disks: dict[str, tuple[str, str, int]], agent: bool = False) -> str:
    disk_xml = "".join(
        f"""<disk type='file' device='disk'><driver name='qemu' type='{fmt}'/><source file='{path}'/>
        <target dev='{target}' bus='virtio'/><alias name='ua-{target}'/></disk>"""
        for target, (path, fmt, _) in disks.items()
    )
    return f"""<domain type='qemu'><name>{name}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
      <os><type arch='x86_64' machine='pc'>hvm</type></os>
      <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>{disk_xml}
      {AGENT_CHANNEL if agent else ""}</devices></domain>"""


def granular(ranges: list[tuple[int, int]], granularity: int = GRANULARITY) -> list[tuple[int, int]]:
    """Written ranges as a dirty bitmap of that granularity reports them: widened, sorted, merged."""
    out: list[tuple[int, int]] = []
    for off, length in sorted(ranges):
        start = off // granularity * granularity
        end = -(-(off + length) // granularity) * granularity
        if out and out[-1][0] + out[-1][1] >= start:
            s, _ = out[-1]
            out[-1] = (s, max(end, out[-1][0] + out[-1][1]) - s)
        else:
            out.append((start, end - start))
    return out


def read_extents(source, size: int, extents: list[tuple[int, int]], base: bytes | None = None) -> bytes:
    """The disk as seen through ``extents`` of ``source`` laid over ``base`` (zeros for a full)."""
    out = bytearray(base if base is not None else bytes(size))
    for off, length in extents:
        out[off : off + length] = source.read(off, length)
    return bytes(out)


def read_all(source, block: int = 4 * MiB) -> bytes:
    return b"".join(source.read(off, block) for off in range(0, source.size, block))
