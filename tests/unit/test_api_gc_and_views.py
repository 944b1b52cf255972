"""The API worker's garbage-collector pause accounting, and how a listing's timestamps are rendered."""

from __future__ import annotations

import datetime as dt
import gc

import pytest

from t4o.api import gc_pauses, views


def test_gc_pauses_count_each_generation() -> None:
    gc_pauses.install()
    gc_pauses.install()  # once per process, however often it is asked
    assert gc.callbacks.count(gc_pauses._callback) == 1
    before = gc_pauses.totals()
    gc.collect()
    after = gc_pauses.totals()
    assert after[2][0] == before[2][0] + 1
    assert after[2][1] > before[2][1] and after[2][2] > 0
    assert after[0][0] >= before[0][0]
    assert gc_pauses.summary().startswith("GC pauses: gen0 ")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-01 10:20:30", "2026-01-01T10:20:30.000000Z"),  # MariaDB DATETIME: whole seconds
        ("2026-01-01 10:20:30.5", "2026-01-01T10:20:30.500000Z"),
        ("2026-01-01 10:20:30.123456", "2026-01-01T10:20:30.123456Z"),
        (dt.datetime(2026, 1, 1, 10, 20, 30, 7), "2026-01-01T10:20:30.000007Z"),
        (None, None),
    ],
)
def test_listed_timestamps_render_as_the_api_writes_them(
    value: str | dt.datetime | None, expected: str
) -> None:
    assert views._ts(value) == expected
