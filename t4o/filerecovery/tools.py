"""Running the external tools safely: an argument vector (no shell), a timeout, a clear error.

Every tool gets its paths as separate arguments; commands for the interactive tools (debugfs, xfs_db)
are built by the readers, which quote their path arguments and never put a line break in one.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence

from t4o.filerecovery.errors import ToolError

LOG = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 120.0  # seconds, for one metadata command (a listing, a stat, a batch of them)
READ_CHUNK = 1024 * 1024

# Tools print dates in the local time zone; the readers parse UTC.
_ENV = {**os.environ, "TZ": "UTC", "LC_ALL": "C"}


def which(tool: str) -> str:
    """The full path of a tool, or ``ToolError`` naming the Debian package that provides it."""
    found = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin:/usr/bin:/bin")
    if not found:
        package = {
            "debugfs": "e2fsprogs",
            "xfs_db": "xfsprogs",
            "nbdfuse": "libnbd-bin",
            "nbdkit": "nbdkit",
            "fusermount3": "fuse3",
        }.get(tool, tool)
        raise ToolError(f"{tool} is not installed (Debian package {package})")
    return found


def run(
    argv: Sequence[str | bytes], *, stdin: bytes = b"", timeout: float = DEFAULT_TIMEOUT
) -> tuple[bytes, bytes]:
    """Runs a tool to completion: (stdout, stderr). ``ToolError`` on a timeout or a non-zero exit."""
    try:
        proc = subprocess.run(
            list(argv), input=stdin, capture_output=True, timeout=timeout, env=_ENV, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"{_name(argv)} did not finish within {timeout:.0f} s") from exc
    except OSError as exc:
        raise ToolError(f"{_name(argv)} could not run: {exc}") from exc
    if proc.returncode != 0:
        raise ToolError(f"{_name(argv)} failed (exit {proc.returncode}): {_first_line(proc.stderr)}")
    return proc.stdout, proc.stderr


def stream(
    argv: Sequence[str | bytes], *, stdin: bytes = b"", expected: int | None = None
) -> Iterator[bytes]:
    """Runs a tool and yields its standard output in chunks of up to 1 MiB.

    With ``expected``, the stream is cut there (debugfs pads an inline-data file to its inode's
    60 bytes) and a shorter one is a ``ToolError`` (a truncated read must not pass as a whole file).
    Closing the iterator early kills the tool.
    """
    try:
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_ENV
        )
    except OSError as exc:
        raise ToolError(f"{_name(argv)} could not run: {exc}") from exc
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    total = 0
    try:
        proc.stdin.write(stdin)
        proc.stdin.close()
        while chunk := proc.stdout.read(READ_CHUNK):
            if expected is not None and total + len(chunk) > expected:
                chunk = chunk[: expected - total]
            total += len(chunk)
            if chunk:
                yield chunk
        proc.wait(timeout=DEFAULT_TIMEOUT)
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    if proc.returncode != 0:
        raise ToolError(f"{_name(argv)} failed (exit {proc.returncode}): {_first_line(err)}")
    if expected is not None and total < expected:
        raise ToolError(f"{_name(argv)} gave {total} bytes, expected {expected}: {_first_line(err)}")


def _name(argv: Sequence[str | bytes]) -> str:
    first = argv[0]
    return os.path.basename(first.decode() if isinstance(first, bytes) else first)


def _first_line(err: bytes) -> str:
    lines = [line for line in err.decode(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no message"
