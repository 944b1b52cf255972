"""A disk image as a local file, wherever its bytes are: a raw file, or an NBD export.

The filesystem tools (debugfs, xfs_db) read files. A raw image is used as it is. An NBD export
(``nbd+unix:///?socket=PATH``, e.g. a snapshot disk served read-only from the vault) becomes a file
through ``nbdfuse`` (FUSE, no kernel nbd module, no root mount): the tools' reads turn into NBD reads,
so only the blocks a listing or a file needs are fetched. A partition that a tool cannot open at an
offset (xfs_db) is made a file of its own the same way, ``nbdkit`` with its offset filter under
``nbdfuse``. Every mount is undone on ``close``.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from types import TracebackType

from t4o.common.processes import pid_alive
from t4o.filerecovery import tools
from t4o.filerecovery.errors import FileRecoveryError, NotFound, ToolError

LOG = logging.getLogger(__name__)

MOUNT_TIMEOUT = 30.0  # seconds for nbdfuse to connect and mount
MOUNT_PREFIX = "t4o-fr-"  # then the owner's pid: t4o-fr-<pid>-<random>
_MOUNT_DIR = re.compile(rf"^{MOUNT_PREFIX}(\d+)-\w+$")


def cleanup_stale_mounts() -> list[str]:
    """Unmounts the FUSE mounts of this package whose owner process is gone (a service killed
    without closing its disks leaves nbdfuse running, holding its NBD connection) or whose nbdfuse
    died; returns the mount points it removed. Call it when a service starts."""
    removed = []
    for name in os.listdir(tempfile.gettempdir()):  # what a killed owner left unmounted
        m = _MOUNT_DIR.match(name)
        path = os.path.join(tempfile.gettempdir(), name)
        if m and not pid_alive(int(m.group(1))) and not os.path.ismount(path):
            with contextlib.suppress(OSError):
                os.rmdir(path)
            with contextlib.suppress(OSError):
                os.unlink(path + ".pid")
    with open("/proc/self/mounts", encoding="utf-8", errors="replace") as f:
        mounts = [line.split()[1] for line in f if line.split()[2].startswith("fuse")]
    for point in mounts:
        point = point.replace("\\040", " ")
        m = _MOUNT_DIR.match(os.path.basename(point))
        if not m or os.path.dirname(point) != tempfile.gettempdir():
            continue
        if pid_alive(int(m.group(1))) and _connected(point):
            continue
        try:
            tools.run([tools.which("fusermount3"), "-u", "-z", point], timeout=30)
        except ToolError as exc:
            LOG.warning("stale file recovery mount %s: %s", point, exc)
            continue
        shutil.rmtree(point, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.unlink(point + ".pid")
        LOG.info("removed the stale file recovery mount %s", point)
        removed.append(point)
    return removed


def _connected(point: str) -> bool:
    try:
        os.stat(point)
    except OSError as exc:
        return exc.errno != errno.ENOTCONN
    return True


def is_nbd_uri(source: str) -> bool:
    return source.startswith(("nbd://", "nbd+unix://", "nbds://", "nbds+unix://"))


class _FuseFile:
    """One ``nbdfuse`` mount showing one file; ``argv_tail`` is a URI or ``[ server command ]``."""

    def __init__(self, argv_tail: list[str], what: str) -> None:
        self.dir = tempfile.mkdtemp(prefix=f"{MOUNT_PREFIX}{os.getpid()}-")
        self.path = os.path.join(self.dir, "disk")
        pidfile = os.path.join(self.dir + ".pid")
        argv = [tools.which("nbdfuse"), "-r", "-P", pidfile, self.path, *argv_tail]
        self._pidfile = pidfile
        try:
            self._proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
        except OSError as exc:
            os.rmdir(self.dir)
            raise ToolError(f"nbdfuse could not run: {exc}") from exc
        deadline = time.monotonic() + MOUNT_TIMEOUT
        while not os.path.exists(pidfile):
            timed_out = time.monotonic() > deadline
            if self._proc.poll() is not None or timed_out:
                if timed_out:  # still connecting (a server that takes no more clients): stop it first
                    self._proc.kill()
                    self._proc.wait()
                err = self._proc.stderr.read().decode(errors="replace").strip() if self._proc.stderr else ""
                self.close()
                reason = (
                    f"no answer within {MOUNT_TIMEOUT:.0f} s"
                    if timed_out
                    else (err.splitlines() or ["?"])[-1]
                )
                raise ToolError(f"nbdfuse could not open {what}: {reason}")
            time.sleep(0.02)
        LOG.debug("nbdfuse serves %s at %s", what, self.path)

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                tools.run([tools.which("fusermount3"), "-u", self.dir], timeout=30)
            except ToolError as exc:
                LOG.warning("unmounting %s: %s", self.dir, exc)
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stderr:
            self._proc.stderr.close()
        for leftover in (self._pidfile,):
            if os.path.exists(leftover):
                os.unlink(leftover)
        shutil.rmtree(self.dir, ignore_errors=True)


class DiskImage:
    """A disk as a local file (``path``), its size, and reads at any offset. Use it as a context
    manager, or call ``close``."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._mounts: list[_FuseFile] = []
        self._regions: dict[tuple[int, int], str] = {}
        if is_nbd_uri(source):
            mount = _FuseFile([source], source)
            self._mounts.append(mount)
            self.path = mount.path
        else:
            if not os.path.isfile(source):
                raise NotFound(f"no disk image at {source}")
            self.path = source
        try:
            self._fd = os.open(self.path, os.O_RDONLY)
        except OSError as exc:
            self.close()
            raise FileRecoveryError(f"cannot open the disk image {source}: {exc.strerror}") from exc
        self.size = os.lseek(self._fd, 0, os.SEEK_END)

    def read(self, offset: int, length: int) -> bytes:
        if offset < 0 or offset >= self.size or length <= 0:
            return b""
        return os.pread(self._fd, min(length, self.size - offset), offset)

    def region_file(self, offset: int, size: int) -> str:
        """A local file holding bytes [offset, offset + size) of the disk (the disk itself for a
        whole-disk region), for tools that cannot open a filesystem at an offset."""
        if offset == 0 and size == self.size:
            return self.path
        key = (offset, size)
        if key not in self._regions:
            server = [tools.which("nbdkit"), "-r", "--filter=offset", "file", self.path]
            server += [f"offset={offset}", f"range={size}"]
            mount = _FuseFile(["[", *server, "]"], f"{self.source} at offset {offset}")
            self._mounts.append(mount)
            self._regions[key] = mount.path
        return self._regions[key]

    def close(self) -> None:
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)
            self._fd = None  # type: ignore[assignment]
        for mount in reversed(self._mounts):  # regions first: they read the disk's own mount
            mount.close()
        self._mounts.clear()
        self._regions.clear()

    def __enter__(self) -> DiskImage:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
