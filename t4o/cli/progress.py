"""A live progress bar for snapshot and restore jobs: percent, bytes moved, transfer rate, message."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from typing import IO, Any

from oslo_utils import units

# The CLI imports no server package, so it keeps its own twin of t4o.common.sizes.format_bytes.
_UNITS = ((units.Pi, "PiB"), (units.Ti, "TiB"), (units.Gi, "GiB"), (units.Mi, "MiB"), (units.Ki, "KiB"))


def human_bytes(count: float) -> str:
    """``count`` bytes in the largest unit it reaches, with one decimal (whole bytes below 1 KiB)."""
    for size, unit in _UNITS:
        if abs(count) >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count:.0f} B"


def _bar(label: str, percent: int) -> str:
    filled = 30 * percent // 100
    return f"{label} [{'#' * filled}{'.' * (30 - filled)}] {percent:3d}%"


class _Line:
    """One status line on ``stream``: on a terminal, redrawn in place and cut to its width."""

    def __init__(
        self,
        stream: IO[str],
        label: str,
        *,
        tty: bool | None = None,
        width: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.label = label
        self.tty = stream.isatty() if tty is None else tty
        self.width = width
        self.clock = clock
        self._shown = ""

    def _redraw(self, line: str) -> None:
        columns = self.width or shutil.get_terminal_size((100, 24)).columns
        line = line[: max(columns - 1, 10)]
        self.stream.write("\r" + line.ljust(len(self._shown)))
        self.stream.flush()
        self._shown = line


class ProgressBar(_Line):
    """Renders job polls: redrawn in place on a terminal, one line per change otherwise (logs, pipes)."""

    def __init__(
        self,
        stream: IO[str],
        label: str,
        *,
        tty: bool | None = None,
        width: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(stream, label, tty=tty, width=width, clock=clock)
        self._samples: list[tuple[float, int]] = []
        self._drawn = False

    def _rate(self, uploaded: int) -> float | None:
        now = self.clock()
        self._samples.append((now, uploaded))
        # The rate over the last ~10 s smooths out polls that saw no new bytes.
        self._samples = [s for s in self._samples if now - s[0] <= 10.0] or [(now, uploaded)]
        first_t, first_b = self._samples[0]
        if now - first_t <= 0 or uploaded <= first_b:
            return None
        return (uploaded - first_b) / (now - first_t)

    def render(self, job: dict[str, Any]) -> str:
        percent = max(0, min(100, int(job.get("progress_percent") or 0)))
        parts = [_bar(self.label, percent)]
        size = int(job.get("size") or 0)
        uploaded = int(job.get("uploaded_size") or 0)
        if size or uploaded:
            parts.append(f"{human_bytes(uploaded)}/{human_bytes(size)}" if size else human_bytes(uploaded))
            rate = self._rate(uploaded)
            if rate:
                parts.append(f"{human_bytes(rate)}/s")
        parts.append(str(job.get("status") or ""))
        message = job.get("progress_msg") or ""
        if message:
            parts.append(message)
        return "  ".join(parts)

    def update(self, job: dict[str, Any]) -> None:
        line = self.render(job)
        if self.tty:
            self._redraw(line)
            self._drawn = True
            return
        if line != self._shown:
            self.stream.write(line + "\n")
        self._shown = line
        self.stream.flush()

    def finish(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


class TransferBar(_Line):
    """A download's progress on a terminal: bar and percent when the length is known, bytes and rate;
    redrawn in place at most every ``interval`` seconds. Draws nothing when the stream is not a
    terminal (the command prints its summary line either way)."""

    def __init__(
        self,
        stream: IO[str],
        label: str,
        *,
        tty: bool | None = None,
        width: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        interval: float = 0.1,
    ) -> None:
        super().__init__(stream, label, tty=tty, width=width, clock=clock)
        self.interval = interval
        self.started = clock()
        self._drawn_at: float | None = None
        self._last: tuple[int, int | None] = (0, None)

    def render(self, done: int, total: int | None) -> str:
        elapsed = self.clock() - self.started
        rate = f"{human_bytes(done / elapsed)}/s" if elapsed > 0 and done else ""
        if total:
            percent = max(0, min(100, done * 100 // total))
            parts = [_bar(self.label, percent), f"{human_bytes(done)}/{human_bytes(total)}"]
        else:
            parts = [self.label, human_bytes(done)]
        if rate:
            parts.append(rate)
        return "  ".join(parts)

    def _draw(self, done: int, total: int | None) -> None:
        self._redraw(self.render(done, total))
        self._drawn_at = self.clock()

    def update(self, done: int, total: int | None) -> None:
        self._last = (done, total)
        if not self.tty:
            return
        if self._drawn_at is None or self.clock() - self._drawn_at >= self.interval:
            self._draw(done, total)

    def finish(self) -> None:
        """The last state drawn, then the line ended (on a terminal)."""
        if self.tty and (self._drawn_at is not None or self._last[0]):
            self._draw(*self._last)
            self.stream.write("\n")
            self.stream.flush()
