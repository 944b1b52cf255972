"""A minimal Linux guest that answers qemu-guest-agent: Debian's kernel, busybox and qemu-ga in an initramfs.

It mounts its ext4 disk (vda) and runs qemu-ga on the agent's virtio-serial port, so fsfreeze can be
tested for real. Built from the host's Debian packages (linux-image-amd64, busybox-static,
qemu-guest-agent, cpio); ``missing()`` names those that are absent.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess

PACKAGES = {
    "linux-image-amd64": "/boot/vmlinuz-*",
    "busybox-static": "/bin/busybox",
    "qemu-guest-agent": "/usr/sbin/qemu-ga",
    "cpio": "/usr/bin/cpio",
    "e2fsprogs": "/sbin/mkfs.ext4",
}
MODULES = ("virtio_pci", "virtio_blk", "virtio_console", "crc32c_generic", "ext4")

INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do insmod /$m; done
mkdir -p /mnt /run /var/run
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
mount -t ext4 /dev/vda /mnt
echo "guest: vda mounted" > /dev/ttyS0
for p in /sys/class/virtio-ports/*; do
  [ "$(cat $p/name)" = org.qemu.guest_agent.0 ] && port=/dev/$(basename $p)
done
exec /usr/sbin/qemu-ga -m virtio-serial -p $port
"""


def missing() -> list[str]:
    return [pkg for pkg, pattern in PACKAGES.items() if not glob.glob(pattern)]


def _kernel() -> tuple[str, str]:
    kernels = sorted(glob.glob("/boot/vmlinuz-*"))
    path = kernels[-1]
    return path, path.removeprefix("/boot/vmlinuz-")


def _module_files(kver: str) -> list[str]:
    """The modules to load, dependencies first, as paths relative to /lib/modules/<kver>."""
    deps: dict[str, list[str]] = {}
    with open(f"/lib/modules/{kver}/modules.dep") as f:
        for line in f:
            mod, _, rest = line.partition(":")
            deps[mod] = rest.split()
    by_name = {os.path.basename(m).removesuffix(".ko").replace("-", "_"): m for m in deps}
    order: list[str] = []

    def add(mod: str) -> None:
        if mod in order:
            return
        for dep in reversed(deps.get(mod, [])):
            add(dep)
        order.append(mod)

    for name in MODULES:
        if name in by_name:  # absent means built into this kernel
            add(by_name[name])
    return order


def _libraries(binary: str) -> list[str]:
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    return re.findall(r"(/\S+\.so[.\d]*)", out)


def build(workdir: str) -> tuple[str, str]:
    """Kernel and initramfs paths inside ``workdir`` (readable by QEMU's user)."""
    kernel_src, kver = _kernel()
    root = os.path.join(workdir, "initramfs")
    for d in ("bin", "proc", "sys", "dev", "usr/sbin"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copy2("/bin/busybox", os.path.join(root, "bin/busybox"))
    shutil.copy2("/usr/sbin/qemu-ga", os.path.join(root, "usr/sbin/qemu-ga"))
    for lib in _libraries("/usr/sbin/qemu-ga"):
        dest = os.path.join(root, lib.lstrip("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy2(lib, dest)
    order = []
    for rel in _module_files(kver):
        dest = os.path.join("modules", os.path.basename(rel))
        os.makedirs(os.path.join(root, "modules"), exist_ok=True)
        shutil.copy2(f"/lib/modules/{kver}/{rel}", os.path.join(root, dest))
        order.append(dest)
    with open(os.path.join(root, "modules.order"), "w") as f:
        f.write("\n".join(order) + "\n")
    with open(os.path.join(root, "init"), "w") as f:
        f.write(INIT)
    os.chmod(os.path.join(root, "init"), 0o755)
    initrd = os.path.join(workdir, "initrd.cpio")
    files = subprocess.run(["find", "."], cwd=root, capture_output=True, check=True).stdout
    with open(initrd, "wb") as out:
        subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root, input=files, stdout=out, check=True)
    shutil.rmtree(root)
    kernel = os.path.join(workdir, "vmlinuz")
    shutil.copy2(kernel_src, kernel)
    os.chmod(kernel, 0o644)
    os.chmod(initrd, 0o644)
    return kernel, initrd


def ext4_qcow2(path: str, size: int) -> None:
    raw = path + ".raw"
    subprocess.run(["mkfs.ext4", "-q", "-F", raw, str(size // 1024)], check=True, capture_output=True)
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, path], check=True)
    os.unlink(raw)


def domain_xml(name: str, kernel: str, initrd: str, disk: str) -> str:
    return f"""<domain type='qemu'><name>{name}</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>
      <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{kernel}</kernel><initrd>{initrd}</initrd>
        <cmdline>console=ttyS0 quiet panic=-1</cmdline></os>
      <on_reboot>destroy</on_reboot>
      <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>
        <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{disk}'/>
          <target dev='vda' bus='virtio'/></disk>
        <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
        <serial type='pty'/><console type='pty'/>
      </devices></domain>"""
