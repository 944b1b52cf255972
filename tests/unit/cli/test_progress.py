"""The progress bar's rendering: percent, bytes, rate, in-place redraw on terminals."""

from __future__ import annotations

import io

from t4o.cli.progress import ProgressBar, human_bytes


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_human_bytes() -> None:
    assert human_bytes(0) == "0 B"
    assert human_bytes(1023) == "1023 B"
    assert human_bytes(1536) == "1.5 KiB"
    assert human_bytes(5 * 1024**3) == "5.0 GiB"


def test_bar_with_bytes_and_rate() -> None:
    clock, out = Clock(), io.StringIO()
    bar = ProgressBar(out, "Snapshot abcd1234", tty=False, clock=clock)
    job = {
        "status": "executing",
        "progress_percent": 50,
        "size": 100 * 1024**2,
        "uploaded_size": 10 * 1024**2,
    }
    first = bar.render(job)
    assert first.startswith("Snapshot abcd1234 [" + "#" * 15 + "." * 15 + "]  50%")
    assert "10.0 MiB/100.0 MiB" in first and "/s" not in first  # one sample: no rate yet
    clock.now += 2
    second = bar.render({**job, "uploaded_size": 30 * 1024**2})
    assert "30.0 MiB/100.0 MiB" in second and "10.0 MiB/s" in second


def test_bar_without_bytes_shows_status_and_message() -> None:
    bar = ProgressBar(io.StringIO(), "Restore 1", tty=False)
    line = bar.render(
        {"status": "queued", "progress_percent": 0, "size": 0, "uploaded_size": 0, "progress_msg": "Queued"}
    )
    assert line.endswith("  0%  queued  Queued") and "B/" not in line
    assert "[" + "#" * 30 + "] 100%" in bar.render({"status": "available", "progress_percent": 140})


def test_pipe_gets_one_line_per_change() -> None:
    out = io.StringIO()
    bar = ProgressBar(out, "S", tty=False)
    for pct in (0, 0, 40, 40, 100):
        bar.update({"status": "executing", "progress_percent": pct})
    bar.finish()
    assert [line.split("]")[1].split()[0] for line in out.getvalue().splitlines()] == ["0%", "40%", "100%"]


def test_terminal_redraws_in_place() -> None:
    out = io.StringIO()
    bar = ProgressBar(out, "S", tty=True, width=60)
    bar.update({"status": "executing", "progress_percent": 10, "progress_msg": "x" * 100})
    bar.update({"status": "available", "progress_percent": 100})
    bar.finish()
    text = out.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n") and text.count("\n") == 1
    assert all(len(chunk.rstrip("\n")) <= 59 for chunk in text.split("\r")[1:2])
