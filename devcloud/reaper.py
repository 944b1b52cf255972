"""Runs a command as a child subreaper (Linux), reaping every orphan that falls to it at once.

libvirtd starts QEMU as a daemon: once a QEMU exits (a server stopped, destroyed or deleted), its
zombie belongs to the nearest subreaper, else to PID 1, and libvirt waits until it is reaped before
it reports the domain off. systemd reaps at once; a container's init may reap only every second or
so, which would add that to every stop, destroy and delete of a devcloud server. Started as
``reaper.py COMMAND ARGS...``: the signals that stop a service are passed on to COMMAND, and the
reaper exits with COMMAND's exit status.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_CHILD_SUBREAPER = 36


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: reaper.py COMMAND [ARGS...]", file=sys.stderr)
        return 2
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print(f"reaper.py: prctl: {os.strerror(ctypes.get_errno())}", file=sys.stderr)
        return 1
    child = os.fork()
    if child == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: os.kill(child, signum))
    while True:
        try:
            pid, status = os.wait()  # any child: the command, or an orphan handed to this reaper
        except ChildProcessError:
            return 0
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            return code if code >= 0 else 128 - code  # killed by a signal: 128 + its number, as a shell says


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
