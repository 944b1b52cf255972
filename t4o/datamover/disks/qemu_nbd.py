"""Serve an image file over NBD on a private unix socket with qemu-nbd, for the life of a ``with`` block."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from types import TracebackType

from oslo_log import log as logging

from t4o.datamover.disks.errors import NbdError, QemuToolError
from t4o.datamover.disks.nbd import NbdClient

LOG = logging.getLogger(__name__)
QEMU_NBD = "qemu-nbd"
EXPORT = "disk"


class QemuNbdServer:
    """qemu-nbd on ``path``: read-only for sources, read-write (with discard) for writers."""

    def __init__(self, path: str, fmt: str, read_only: bool, bitmap: str | None = None) -> None:
        self.path = path
        self.fmt = fmt
        self.read_only = read_only
        self.bitmap = bitmap
        self._dir = ""
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> str:
        return os.path.join(self._dir, "nbd.sock")

    def start(self, timeout: float = 30) -> QemuNbdServer:
        self._dir = tempfile.mkdtemp(prefix="t4o-nbd-")
        args = [QEMU_NBD, "--socket", self.socket_path, "--export-name", EXPORT, "--format", self.fmt]
        args += ["--persistent", "--shared", "8"]
        if self.read_only:
            args.append("--read-only")
        else:
            args += ["--discard", "unmap", "--detect-zeroes", "unmap"]
        if self.bitmap:
            args += ["--bitmap", self.bitmap]
        args.append(self.path)
        LOG.debug("starting %s", " ".join(args))
        try:
            self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except FileNotFoundError as exc:
            self._cleanup_dir()
            raise QemuToolError("qemu-nbd is not installed (Debian package qemu-utils)") from exc
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.socket_path):
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace").strip() if self._proc.stderr else ""
                self._cleanup_dir()
                raise QemuToolError(f"qemu-nbd could not serve {self.path}: {err or self._proc.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise QemuToolError(f"qemu-nbd did not open its socket for {self.path} within {timeout}s")
            time.sleep(0.02)
        return self

    def client(self, meta_contexts: tuple[str, ...] = (), timeout: float = 10) -> NbdClient:
        # qemu-nbd binds its socket before it listens: a connect in between is refused (seen under load).
        deadline = time.monotonic() + timeout
        while True:
            try:
                return NbdClient.connect_unix(self.socket_path, EXPORT, meta_contexts)
            except NbdError as exc:
                refused = isinstance(exc.__cause__, ConnectionRefusedError)
                alive = self._proc is not None and self._proc.poll() is None
                if not (refused and alive) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc is not None and self._proc.stderr:
            self._proc.stderr.close()
        self._proc = None
        self._cleanup_dir()

    def _cleanup_dir(self) -> None:
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = ""

    def __enter__(self) -> QemuNbdServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
