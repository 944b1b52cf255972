"""The agent's bandwidth cap: a token bucket on a fake clock, and the source and writer wrappers that pay
for the bytes they move."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from t4o.datamover.agent.bandwidth import Bandwidth, ThrottledSource, ThrottledWriter, TokenBucket

MIB = 1 << 20


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.slept.append(seconds)
            self.now += seconds


def bucket(rate: float, clock: FakeClock, burst: float | None = None) -> TokenBucket:
    return TokenBucket(rate, burst, clock=clock, sleep=clock.sleep)


def test_the_long_run_rate_is_the_configured_one() -> None:
    clock = FakeClock()
    b = bucket(20 * MIB, clock)
    start = clock()
    for _ in range(200):  # 200 MiB in 1 MiB blocks
        b.take(MIB)
    elapsed = clock() - start
    # 200 MiB at 20 MiB/s, less the initial burst of a quarter second.
    assert elapsed == pytest.approx(200 / 20 - 0.25, rel=1e-9)


def test_an_idle_bucket_fills_only_up_to_its_burst() -> None:
    clock = FakeClock()
    b = bucket(10 * MIB, clock, burst=2 * MIB)
    clock.sleep(3600)  # an hour idle
    assert b.take(2 * MIB) == 0.0  # the burst is free
    assert b.take(MIB) == pytest.approx(0.1)  # then the rate holds again: no hour's worth of credit


def test_a_block_bigger_than_the_burst_is_paid_for_in_time() -> None:
    clock = FakeClock()
    b = bucket(64 * 1024, clock, burst=0)
    assert b.take(MIB) == pytest.approx(16.0)  # 1 MiB at 64 KiB/s
    assert b.take(0) == 0.0


def test_threads_share_one_rate() -> None:
    clock = FakeClock()
    slept: list[float] = []
    # A frozen clock: every take adds to one shared debt, whatever the threads' interleaving.
    b = TokenBucket(8 * MIB, 0, clock=clock, sleep=slept.append)

    def mover() -> None:
        for _ in range(16):
            b.take(MIB)

    threads = [threading.Thread(target=mover) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 64 MiB moved by four threads at 8 MiB/s in all: the last of them waits 8 s, not 2 s (its own 16 MiB).
    assert len(slept) == 64 and max(slept) == pytest.approx(64 / 8)
    assert sorted(slept) == pytest.approx([(i + 1) / 8 for i in range(64)])


def test_a_bucket_needs_a_positive_rate() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0)


class Source:
    size = 4 * MIB
    path = "/dev/vda"
    format = "qcow2"

    def __init__(self) -> None:
        self.reads: list[tuple[int, int]] = []

    def read(self, offset: int, length: int) -> bytes:
        self.reads.append((offset, length))
        return b"x" * length

    def data_extents(self) -> list[tuple[int, int]]:
        return [(0, MIB)]


class Writer:
    size = 4 * MIB

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int]] = []

    def write(self, offset: int, data: bytes) -> None:
        self.calls.append(("write", offset, len(data)))

    def write_zeroes(self, offset: int, length: int) -> None:
        self.calls.append(("zero", offset, length))

    def flush(self) -> None:
        self.calls.append(("flush", 0, 0))


def test_a_throttled_source_pays_for_its_reads_and_is_the_source_otherwise() -> None:
    clock = FakeClock()
    inner = Source()
    src: Any = ThrottledSource(inner, bucket(MIB, clock, burst=0))
    assert (src.size, src.path, src.format, src.data_extents()) == (4 * MIB, "/dev/vda", "qcow2", [(0, MIB)])
    assert src.read(0, MIB) == b"x" * MIB and src.read(MIB, MIB // 2) == b"x" * (MIB // 2)
    assert inner.reads == [(0, MIB), (MIB, MIB // 2)]
    assert clock.slept == pytest.approx([1.0, 0.5])  # each read waits for its own length
    assert getattr(ThrottledSource(object(), bucket(1, clock)), "data_extents", None) is None


def test_a_throttled_writer_pays_for_data_not_for_zeroes() -> None:
    clock = FakeClock()
    inner = Writer()
    w: Any = ThrottledWriter(inner, bucket(MIB, clock, burst=0))
    w.write(0, b"d" * MIB)
    w.write_zeroes(MIB, 3 * MIB)
    w.flush()
    assert inner.calls == [("write", 0, MIB), ("zero", MIB, 3 * MIB), ("flush", 0, 0)]
    assert clock.slept == pytest.approx([1.0]) and w.size == 4 * MIB


def test_no_cap_leaves_sources_and_writers_as_they_are() -> None:
    src, writer = Source(), Writer()
    off = Bandwidth(0)
    assert off.source(src) is src and off.writer(writer) is writer
    on = Bandwidth(MIB)
    assert isinstance(on.source(src), ThrottledSource) and isinstance(on.writer(writer), ThrottledWriter)
